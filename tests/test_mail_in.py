"""Answers by mail end to end: our mail out to aiosmtpd, replies into Dovecot, fetched and
matched, receipted; restarts import nothing twice; what is not an answer is held, kept raw."""

from __future__ import annotations

import json
from email.message import EmailMessage

import pytest
from sqlmodel import Session, col, select

from innspill.config.settings import Settings
from innspill.demo.scenario import reply_mail
from innspill.engine import tick
from innspill.inbound.intake import import_mail
from innspill.inbound.mailbox import fetch_new, source_name
from innspill.models import Answer, AnswerAttachment, InboundMessage, OutboxMessage, Participant
from innspill.models.db import session_scope
from innspill.outbound.compose import Outgoing
from innspill.process.loading import get_definition
from tests.conftest import SEED, SEED_ID, copy_seed_files, load_seed, oslo, tick_and_send
from tests.dovecot import Dovecot, dovecot_server, dovecot_session  # noqa: F401  (fixtures)

NORD_JAEREN, OSLO_ = "nord-jaeren-sekretariat", "oslo-akershus-sekretariat"
STEP = "innspill-retningslinjer"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


@pytest.fixture
def mailbox_settings(settings: Settings, dovecot: Dovecot) -> Settings:
    values = {**settings.model_dump(), **dovecot.imap_settings()}
    return Settings(**values, _env_file=None)  # type: ignore[call-arg]  (validated again)


def fetch(engine, settings: Settings, now):  # type: ignore[no-untyped-def]
    source = source_name(settings)

    def handle(fetched) -> None:  # type: ignore[no-untyped-def]
        with session_scope(engine) as session:
            # The simulated clock stands in for INTERNALDATE, which is today's date here.
            import_mail(
                session, fetched.raw, source=source, uid=fetched.uid, received_at=now, now=now
            )

    return fetch_new(settings, handle)


def reply(engine, who: str, at, **kwargs) -> bytes:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        definition = get_definition(session, SEED_ID)
        return reply_mail(session, definition, STEP, who, at, **kwargs)


def inbound(engine) -> list[InboundMessage]:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        return list(session.exec(select(InboundMessage).order_by(col(InboundMessage.id))).all())


def test_a_reply_becomes_an_answer_with_its_file_and_gets_one_receipt(
    engine, mailbox_settings, smtp, dovecot
):  # type: ignore[no-untyped-def]
    load_seed(engine)
    tick_and_send(engine, mailbox_settings, oslo(2020, 3, 30, 9, 30))
    # One invitation for both request steps, with one reply address for both: the reply
    # says which part it answers ("Del 2", as reply_mail writes it, as the letter asks).
    (invitation,) = smtp.handler.to("sekretariat@nord-jaeren.byvekst.example")
    assert invitation.message["X-Innspill-Step"] == "innspill-oppdrag"
    assert "+" in str(invitation.message["Reply-To"]) and "[ref:" in invitation.subject
    assert "skriv «Del 1» eller «Del 2» på første linje" in " ".join(invitation.text().split())
    at = oslo(2020, 4, 2, 10)
    raw = reply(
        engine, NORD_JAEREN, at, texts={"rolle": "Sekretariatet bistår alle parter."}, pdf=True
    )
    dovecot.append(raw)

    report = fetch(engine, mailbox_settings, at)
    assert report.handled == 1 and not report.failed
    (message,) = inbound(engine)
    assert message.status == "accepted" and message.participant_key == NORD_JAEREN
    assert message.raw.replace(b"\r\n", b"\n") == raw.replace(b"\r\n", b"\n")
    with Session(engine) as session:
        answer = session.exec(select(Answer).where(Answer.participant_key == NORD_JAEREN)).one()
        files = session.exec(select(AnswerAttachment)).all()
    assert answer.channel == "email" and answer.step_key == STEP
    # The reply's own text, quoted history gone (the signature stays with the last theme).
    rolle = json.loads(answer.text_json)["rolle"]
    assert rolle.startswith("Sekretariatet bistår alle parter.") and ">" not in rolle
    assert [(f.filename, f.content_type) for f in files] == [
        ("innspill-oslo-og-akershus.pdf", "application/pdf")
    ]

    # A restart (a new connection) finds nothing new; the tick sends one receipt.
    assert fetch(engine, mailbox_settings, at).handled == 0
    assert len(inbound(engine)) == 1
    tick_and_send(engine, mailbox_settings, oslo(2020, 4, 2, 10, 5))
    tick_and_send(engine, mailbox_settings, oslo(2020, 4, 2, 11))
    receipts = [
        r
        for r in smtp.handler.to("sekretariat@nord-jaeren.byvekst.example")
        if r.message["X-Innspill-Kind"] == "receipt"
    ]
    assert len(receipts) == 1
    assert "Sekretariatet bistår alle parter." in receipts[0].text()
    assert "innspill-oslo-og-akershus.pdf" in receipts[0].text()
    assert "+" not in str(receipts[0].message["Reply-To"])  # a reply to it is no answer


def test_what_is_not_an_answer_is_held_with_its_reason_and_raw_bytes(
    engine, mailbox_settings, smtp, dovecot
):  # type: ignore[no-untyped-def]
    load_seed(engine)
    tick_and_send(engine, mailbox_settings, oslo(2020, 3, 30, 9, 30))
    at = oslo(2020, 3, 30, 10)
    out_of_office = reply(
        engine,
        OSLO_,
        at,
        texts={},
        auto_submitted="auto-replied",
        body="Jeg er borte til 14. april.",
    )
    spoof = EmailMessage()
    spoof["From"] = "Sekretariatet <sekretariat@nord-jaeren.byvekst.example>"
    spoof["To"] = "byvekst-innspill@vegvesen.example"
    spoof["Subject"] = "Vårt innspill"
    spoof.set_content("Dette er innspillet vårt.")
    broken = b"Subject: =?utf-8?q?broken\r\nContent-Type: multipart/mixed\r\n\r\n--x\r\n\xff\xfe"
    dovecot.append_all([out_of_office, spoof.as_bytes(), broken])

    report = fetch(engine, mailbox_settings, at)
    assert report.handled == 3
    held = inbound(engine)
    assert [m.status for m in held] == ["held"] * 3
    assert [m.kind for m in held][:2] == ["auto_reply", "no_token"]
    assert all(m.reason for m in held)
    assert held[2].raw.startswith(b"Subject: =?utf-8?q?broken")
    with Session(engine) as session:
        assert session.exec(select(Answer)).all() == []

    # An administrator checks the spoofed one and decides it really is this participant's answer.
    from innspill.inbound.intake import assign

    with session_scope(engine) as session:
        assign(
            session,
            held[1].id,
            process_id=SEED_ID,
            step_id=STEP,
            participant_id=NORD_JAEREN,
            by="saksbehandler",
            now=at,
        )
    with Session(engine) as session:
        (answer,) = session.exec(select(Answer)).all()
    assert answer.participant_key == NORD_JAEREN and "innspillet vårt" in answer.text_json


def test_a_delivery_report_quoting_our_message_marks_the_address_failing(
    engine, mailbox_settings, smtp, dovecot
):  # type: ignore[no-untyped-def]
    load_seed(engine)
    tick_and_send(engine, mailbox_settings, oslo(2020, 3, 30, 9, 30))
    with Session(engine) as session:
        ours = session.exec(
            select(OutboxMessage).where(OutboxMessage.participant_key == NORD_JAEREN)
        ).first()
    assert ours is not None

    def dsn(quote: bool) -> bytes:
        original = f"Message-ID: {ours.message_id}\r\nSubject: Innspill\r\n" if quote else ""
        return (
            "From: Mail Delivery System <MAILER-DAEMON@relay.example>\r\n"
            "To: byvekst-innspill@vegvesen.example\r\n"
            "Subject: Undelivered Mail Returned to Sender\r\n"
            "Auto-Submitted: auto-replied\r\n"
            "MIME-Version: 1.0\r\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n'
            "\r\n--b\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
            "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
            "Reporting-MTA: dns; relay.example\r\n\r\n"
            "Final-Recipient: rfc822; sekretariat@nord-jaeren.byvekst.example\r\n"
            "Action: failed\r\nStatus: 5.1.1\r\n"
            "\r\n--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
            f"{original}From: byvekst-innspill@vegvesen.example\r\n"
            "\r\n--b--\r\n"
        ).encode()

    dovecot.append_all([dsn(quote=False), dsn(quote=True)])
    fetch(engine, mailbox_settings, oslo(2020, 3, 30, 11))
    first, second = inbound(engine)
    assert (first.status, second.status) == ("held", "bounce")
    assert "not believed" in first.reason
    with Session(engine) as session:
        failing = session.exec(
            select(Participant.key).where(col(Participant.address_failing))
        ).all()
    assert failing == [NORD_JAEREN]


def test_fetch_mail_and_inbox_commands(cli, engine, smtp, dovecot, monkeypatch):  # type: ignore[no-untyped-def]
    from tests.conftest import failed, ok

    assert "No mailbox is configured" in failed(cli("fetch-mail"))
    ok(cli("load", str(SEED), "--at", "2020-03-30T08:00"))
    ok(cli("tick", "--at", "2020-03-30T09:30"))
    spoof = EmailMessage()
    spoof["From"] = "sekretariat@nord-jaeren.byvekst.example"
    spoof["To"] = "byvekst-innspill@vegvesen.example"
    spoof["Subject"] = "Innspill"
    spoof.set_content("Vårt innspill.")
    dovecot.append_all(
        [reply(engine, NORD_JAEREN, oslo(2020, 4, 2, 10), texts={"rolle": "Ja."}), spoof.as_bytes()]
    )
    for name, value in dovecot.imap_settings().items():
        monkeypatch.setenv(f"INNSPILL_{name.upper()}", str(value))
    out = ok(cli("fetch-mail", "--at", "2020-04-02T10:00"))
    assert "1 accepted, 1 held" in out and "innspill inbox list" in out
    assert "no new mail" in ok(cli("fetch-mail", "--at", "2020-04-02T10:05"))
    listed = ok(cli("inbox", "list"))
    assert "no_token" in listed and "no token" in listed
    held_id = next(m.id for m in inbound(engine) if m.status == "held")
    ok(cli("inbox", "dismiss", str(held_id)))
    assert "The holding queue is empty." in ok(cli("inbox", "list"))
    assert "dismissed" in ok(cli("inbox", "list", "--all"))


def test_a_reply_after_the_step_closed_is_held_like_the_form_refuses_it(engine, tmp_path):  # type: ignore[no-untyped-def]
    text = SEED.read_text(encoding="utf-8").replace(
        "deadline = 2020-06-01\n", "deadline = 2020-06-01\ncloses = 2020-06-12\n", 1
    )
    path = tmp_path / "closes.toml"
    path.write_text(text, encoding="utf-8")
    copy_seed_files(tmp_path)
    load_seed(engine, path)
    settings = Settings(  # type: ignore[call-arg]
        data_dir=tmp_path / "data", secret_key="k" * 40, _env_file=None
    )
    tick(engine, now=oslo(2020, 3, 30, 9, 30), outgoing=Outgoing.from_settings(settings))
    late, closed = oslo(2020, 6, 12, 16), oslo(2020, 6, 15, 9)
    texts = {"rolle": "Sekretariatet bør være partsnøytralt."}
    for uid, (who, at) in enumerate([(NORD_JAEREN, late), (OSLO_, closed)], start=1):
        raw = reply(engine, who, at, texts=texts)
        with session_scope(engine) as session:
            import_mail(session, raw, source="t", uid=uid, received_at=at, now=at)
    kept, held = inbound(engine)
    assert kept.status == "accepted"  # late, but before the step closed
    assert held.status == "held" and held.answer_id is None
    assert "after the step closed (2020-06-12)" in (held.reason or "")
    with Session(engine) as session:
        who = {a.participant_key for a in session.exec(select(Answer)).all()}
    assert who == {NORD_JAEREN}
