"""The reason for a deadline change reaches the participants: in the notice (for everyone or one
participant, bokmål and nynorsk, text and HTML) and in the reminders that follow; and a notice
is never suppressed by a reminder sent by hand that already named the new deadline.

Everything through the command line, the tick and the recording SMTP server (aiosmtpd)."""

from __future__ import annotations

from pathlib import Path

from innspill.config.settings import Settings
from tests.conftest import Run, ok
from tests.smtp_sink import Received, SmtpSink
from tests.test_languages import seed_with, write

TRONDHEIM = "sekretariat@trondheim.byvekst.example"  # bokmål (Bergen writes nynorsk)
GRENLAND = "sekretariat@grenland.byvekst.example"
KRISTIANSAND = "sekretariat@kristiansand.byvekst.example"  # nynorsk in this round
STEP = "innspill-retningslinjer"
SEED_ID = "byvekstavtaler-sekretariat-2020"
WHY = "Flere sekretariater har bedt om mer tid fordi styringsgruppene møtes sent i mai"
GRENLAND_WHY = "Styringsgruppen i Grenland behandler saken 12. juni"


def said(mail: Received) -> tuple[str, str]:
    """The text part as one line, and the HTML part."""
    html = mail.message.get_body(preferencelist=("html",)).get_content()
    return " ".join(mail.text().split()), html


def last_to(smtp: SmtpSink, address: str, subject_start: str) -> Received:
    found = [r for r in smtp.handler.to(address) if r.subject.startswith(subject_start)]
    assert found, f"no mail to {address} starting {subject_start!r}"
    return found[-1]


def test_the_reason_is_in_the_notice_and_the_reminders_and_no_reminder_suppresses_a_notice(
    cli: Run, smtp: SmtpSink, settings: Settings, tmp_path: Path
) -> None:
    # The step takes late answers until 30 June (`closes`), so that Grenland, whose own
    # deadline will run past the drafters' start, still gets an overdue reminder.
    text = seed_with({"kristiansand-sekretariat": "nn"})
    written = "deadline = 2020-06-01\n"
    assert text.count(written) == 1
    path = write(tmp_path, text.replace(written, written + "closes = 2020-06-30\n"))
    ok(cli("load", str(path), "--at", "2020-03-30T08:00"))
    ok(cli("tick", "--at", "2020-03-30T09:05"))

    # The deadline moves for everyone; before the notices go out (09:00), Trondheim is reminded
    # by hand, and that reminder already names the new deadline.
    ok(cli("extend", SEED_ID, STEP, "2020-06-08", "--reason", WHY, "--at", "2020-05-04T07:30"))
    ok(cli("remind", SEED_ID, STEP, "trondheim-sekretariat", "--at", "2020-05-04T08:00"))
    ok(cli("send", "--at", "2020-05-04T08:01"))
    manual = last_to(smtp, TRONDHEIM, "Påminnelse")
    text, html = said(manual)
    assert "mandag 8. juni 2020" in text
    # ... and says why the deadline moved, as every reminder after a change does.
    assert f"Fristen er utsatt fra 2. juni 2020 til mandag 8. juni 2020. Begrunnelse: {WHY}." in (
        text
    )
    assert f"Begrunnelse: {WHY}." in html

    ok(cli("tick", "--at", "2020-05-04T09:05"))
    notice = last_to(smtp, TRONDHEIM, "Utsatt frist")  # not suppressed by the manual reminder
    text, html = said(notice)
    assert "utsatt fra 2. juni 2020 til mandag 8. juni 2020" in text
    assert f"Begrunnelse: {WHY}." in text
    assert f"<p>Begrunnelse: {WHY}.</p>" in html
    nynorsk = last_to(smtp, KRISTIANSAND, "Utsett frist")
    text, html = said(nynorsk)
    assert "utsett frå 2. juni 2020 til måndag 8. juni 2020" in text
    assert f"Grunngiving: {WHY}." in text and f"<p>Grunngiving: {WHY}.</p>" in html
    notices = [r for r in smtp.received if r.subject.startswith(("Utsatt frist", "Utsett frist"))]
    assert len(notices) == 9  # every secretariat, Trondheim too

    # Grenland gets a week more of its own, with its own reason.
    ok(
        cli(
            "extend",
            SEED_ID,
            STEP,
            "2020-06-15",
            "--participant",
            "grenland-sekretariat",
            "--reason",
            GRENLAND_WHY,
            "--at",
            "2020-05-20T08:00",
        )
    )
    ok(cli("tick", "--at", "2020-05-20T09:05"))
    text, _ = said(last_to(smtp, GRENLAND, "Utsatt frist"))
    assert "utsatt fra 8. juni 2020 til mandag 15. juni 2020" in text
    assert f"Begrunnelse: {GRENLAND_WHY}." in text

    # The reminder 7 working days before 8 June (27 May: Whit Monday is no working day).
    ok(cli("tick", "--at", "2020-05-27T09:05"))
    text, html = said(last_to(smtp, TRONDHEIM, "Påminnelse"))
    assert "Fristen er utsatt fra 2. juni 2020 til mandag 8. juni 2020." in text
    assert f"Begrunnelse: {WHY}." in text
    assert "Fristen er utsatt fra 2. juni 2020 til <strong>mandag 8. juni 2020</strong>." in html
    text, _ = said(last_to(smtp, KRISTIANSAND, "Påminning"))
    assert f"Fristen er utsett frå 2. juni 2020 til måndag 8. juni 2020. Grunngiving: {WHY}." in (
        text
    )

    # After its own deadline, Grenland's overdue reminder says whose extension it was and why.
    ok(cli("tick", "--at", "2020-06-16T09:05"))
    print("SUBJ", [(r.subject) for r in smtp.handler.to(GRENLAND)])
    text, html = said(last_to(smtp, GRENLAND, "Purring"))
    assert "Fristen for innspill var 15. juni 2020" in text
    assert (
        "Dere har fått utsatt frist fra 2. juni 2020 til mandag 15. juni 2020. "
        f"Begrunnelse: {GRENLAND_WHY}."
    ) in text
    assert f"Begrunnelse: {GRENLAND_WHY}.</p>" in html


def test_a_step_never_changed_says_nothing_of_changes(cli: Run, smtp: SmtpSink) -> None:
    from tests.conftest import SEED

    ok(cli("load", str(SEED), "--at", "2020-03-30T08:00"))
    ok(cli("tick", "--at", "2020-03-30T09:05"))
    ok(cli("tick", "--at", "2020-04-20T09:05"))  # 5 working days before 27 April
    text, html = said(last_to(smtp, TRONDHEIM, "Påminnelse"))
    assert "Begrunnelse" not in text and "utsatt" not in text
    assert "Begrunnelse" not in html
