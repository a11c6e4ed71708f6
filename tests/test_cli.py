"""The command line, run in-process with typer's CliRunner against a real database and a recording
SMTP server (or the local .eml capture when no SMTP host is set)."""

from __future__ import annotations

import email
import json
from email.policy import default
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from innspill.cli import app
from innspill.inbound.answers import register_answer
from innspill.models import DeadlineChange, Event, OutboxMessage, Participant, Process, Step
from innspill.models.db import session_scope
from innspill.process.loading import get_definition
from tests.conftest import SEED, SEED_ID, Run, copy_seed_files, failed, ok, oslo

SECRETARIATS = [
    "oslo-akershus",
    "bergen",
    "trondheim",
    "nord-jaeren",
    "kristiansand",
    "buskerudbyen",
    "grenland",
    "nedre-glomma",
    "tromso",
]
SECRETARIAT_ADDRESSES = {f"sekretariat@{area}.byvekst.example" for area in SECRETARIATS}
GRENLAND = "sekretariat@grenland.byvekst.example"


def count(engine, table, *where) -> int:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(table).where(*where)).one()


def process_row(engine) -> Process | None:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        return session.get(Process, SEED_ID)


def invited(cli: Run, smtp) -> None:  # type: ignore[no-untyped-def]
    """Load the seed on 30 March 2020 and send the 9 invitations (one per secretariat, carrying
    both request steps, which open that day)."""
    assert "created" in ok(cli("load", str(SEED), "--at", "2020-03-30T08:00"))
    ok(cli("tick", "--at", "2020-03-30T09:30"))
    assert len(smtp.received) == 9


def edited_seed(tmp_path: Path, *replacements: tuple[str, str], name: str) -> Path:
    text = SEED.read_text(encoding="utf-8")
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    copy_seed_files(tmp_path)
    return path


# --- help, init, validate ----------------------------------------------------------------


def test_help_of_every_command(cli):
    names = [
        c.name or getattr(c.callback, "__name__", "").replace("_", "-")
        for c in app.registered_commands
    ]
    assert {"init", "validate", "load", "tick", "send", "status", "extend", "preview"} <= set(names)
    top = ok(cli("--help"))
    for name in names:
        assert name in top
        out = ok(cli(name, "--help"))
        assert "Usage" in out and name in out


def test_no_arguments_shows_help(cli):
    result = cli()
    assert "Usage" in result.output


def test_init_creates_and_upgrades_the_database(cli, tmp_path):
    # Default: SQLite in the data dir.
    out = ok(cli("init", database=None))
    database = (tmp_path / "data" / "innspill.db").resolve()
    assert database.exists()
    assert str(database) in out and "Database ready" in out
    ok(cli("init", database=None))  # again: an upgrade to the same head
    # The configured database (PostgreSQL when the suite runs on it), already migrated.
    assert "Database ready" in ok(cli("init"))


def test_validate_prints_the_whit_monday_warning(cli, engine):
    out = ok(cli("validate", str(SEED)))
    assert "warning:" in out
    assert "steps[1].deadline" in out and "2020-06-01" in out and "Andre pinsedag" in out
    assert f"Process '{SEED_ID}', 19 participants, 6 steps" in out
    assert process_row(engine) is None


# --- load, tick, status ----------------------------------------------------------------


def test_load_creates_then_is_unchanged(cli, engine):
    out = ok(cli("load", str(SEED), "--at", "2020-03-30T08:00"))
    assert f"{SEED_ID}: created" in out
    assert "Andre pinsedag" in out  # load warns too
    row = process_row(engine)
    assert row is not None and row.reference == "20/64758"
    assert count(engine, Participant) == 19 and count(engine, Step) == 6
    out = ok(cli("load", str(SEED), "--at", "2020-03-31T08:00"))
    assert f"{SEED_ID}: unchanged" in out
    again = process_row(engine)
    assert again is not None
    assert (again.definition_hash, again.loaded_at) == (row.definition_hash, row.loaded_at)
    assert count(engine, Participant) == 19 and count(engine, DeadlineChange) == 0


def test_tick_sends_one_invitation_per_secretariat_for_both_steps(cli, engine, smtp):
    ok(cli("load", str(SEED), "--at", "2020-03-30T08:00"))
    out = ok(cli("tick", "--at", "2020-03-30T09:30"))
    # 18 invitations recorded (one per step and secretariat), 9 messages: each carries both.
    assert "18 queued, 0 skipped." in out
    assert "9 sent, 0 deferred, 0 failed of 9" in out
    assert f"SMTP 127.0.0.1:{smtp.port}" in out
    recipients = [r.rcpt_tos[0] for r in smtp.received]
    assert len(recipients) == 9
    assert set(recipients) == SECRETARIAT_ADDRESSES
    assert all(recipients.count(a) == 1 for a in SECRETARIAT_ADDRESSES)
    assert all("20/64758" in r.subject for r in smtp.received)
    assert count(engine, OutboxMessage, OutboxMessage.status == "sent") == 9
    assert count(engine, OutboxMessage, OutboxMessage.status == "combined") == 9
    # A second tick a minute later has nothing to do.
    out = ok(cli("tick", "--at", "2020-03-30T09:31"))
    assert "0 queued" in out and "Nothing to send" in out
    assert len(smtp.received) == 9


def test_status_json_shows_both_request_steps_open(cli, smtp):
    invited(cli, smtp)
    out = ok(cli("status", "--json", "--at", "2020-04-01T12:00"))
    (status,) = json.loads(out)
    assert status["process"] == SEED_ID and status["reference"] == "20/64758"
    assert status["at"] == "2020-04-01T12:00:00+02:00"
    assert status["messages"]["sent"] == 9 and status["failed_messages"] == []
    steps = {s["step"]: s for s in status["steps"]}
    for step_id, deadline in (
        ("innspill-oppdrag", "2020-04-27"),
        ("innspill-retningslinjer", "2020-06-02"),  # 1 June, Whit Monday, runs to 2 June
    ):
        step = steps[step_id]
        assert step["state"] == "open" and step["deadline"] == deadline
        assert (step["expected"], step["answered"]) == (9, 0)
        assert len(step["participants"]) == 9
        assert all(p["invited"] for p in step["participants"])
        assert all(p["deadline"] == deadline and not p["extended"] for p in step["participants"])
        assert {p["participant"] for p in step["participants"]} == {
            f"{area}-sekretariat" for area in SECRETARIATS
        }
    assert (
        steps["innspill-oppdrag"]["written_deadline"],
        steps["innspill-retningslinjer"]["written_deadline"],
    ) == (None, "2020-06-01")
    assert {steps[s]["state"] for s in ("sammenstilling", "halvdagsmote", "oversendelse")} == {
        "not started"
    }


def test_status_text_on_an_empty_database(cli):
    assert "No process is loaded" in ok(cli("status"))
    assert json.loads(ok(cli("status", "--json"))) == []


def test_status_text_after_load(cli, smtp):
    invited(cli, smtp)
    out = ok(cli("status", "--at", "2020-04-01T12:00"))
    assert SEED_ID in out and "Vår referanse: 20/64758" in out
    assert "innspill-oppdrag" in out and "0/9 answered" in out
    assert "grenland-sekretariat" in out


def test_status_of_an_unknown_process(cli):
    out = failed(cli("status", "nope"))
    assert "no process 'nope' is loaded" in out


# --- extend --------------------------------------------------------------------------------


def test_extend_for_one_participant_then_tick_tells_only_that_one(cli, engine, smtp):
    invited(cli, smtp)
    out = ok(
        cli(
            "extend",
            SEED_ID,
            "innspill-oppdrag",
            "2020-05-08",
            "--participant",
            "grenland-sekretariat",
            "--reason",
            "ba om utsettelse",
            "--at",
            "2020-04-22T11:00",
        )
    )
    assert "Deadline of innspill-oppdrag set to 2020-05-08 for grenland-sekretariat." in out
    assert len(smtp.received) == 9  # extend itself sends nothing
    before = len(smtp.received)
    ok(cli("tick", "--at", "2020-04-22T14:00"))
    new = smtp.received[before:]
    changed = [r for r in new if "frist:" in r.subject and "Påminnelse" not in r.subject]
    assert len(changed) == 1
    (message,) = changed
    assert message.rcpt_tos == [GRENLAND]
    # What it is, the step and the case; the new date is in the letter (with the case, it
    # does not fit under 100 characters).
    assert message.subject.startswith(
        "Utsatt frist: Innspill til oppdraget – retningslinjer for sekretariatene (vår ref."
    )
    text = message.text()
    assert "8. mai 2020" in text and "27. april 2020" in text
    # Grenland gets only the notice (its reminder waits for the new deadline); the others get
    # the ordinary reminder for 27 April.
    assert [r.rcpt_tos[0] for r in new].count(GRENLAND) == 1
    others = [r for r in new if r.rcpt_tos != [GRENLAND]]
    # Bergen writes nynorsk: "Påminning".
    assert others and all(r.subject.startswith(("Påminnelse", "Påminning")) for r in others)
    assert count(engine, OutboxMessage, OutboxMessage.kind == "deadline_changed") == 1
    with Session(engine) as session:
        (change,) = session.exec(select(DeadlineChange)).all()
    assert change.participant_key == "grenland-sekretariat" and change.reason == "ba om utsettelse"
    (status,) = json.loads(ok(cli("status", "--json", "--at", "2020-04-22T15:00")))
    people = {p["participant"]: p for p in status["steps"][0]["participants"]}
    assert people["grenland-sekretariat"]["deadline"] == "2020-05-08"
    assert people["grenland-sekretariat"]["extended"] is True
    assert people["bergen-sekretariat"]["deadline"] == "2020-04-27"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(
            [SEED_ID, "innspill-oppdragg", "2020-05-08"],
            ["no step 'innspill-oppdragg'", "innspill-oppdrag, innspill-retningslinjer"],
            id="unknown-step",
        ),
        pytest.param(
            [SEED_ID, "halvdagsmote", "2020-05-08"],
            ["'halvdagsmote' is a meeting step"],
            id="not-a-request-step",
        ),
        pytest.param(
            [SEED_ID, "innspill-oppdrag", "2020-05-08", "--participant", "grenland"],
            ["'grenland' is not a participant of step 'innspill-oppdrag'"],
            id="unknown-participant",
        ),
        pytest.param(
            [SEED_ID, "innspill-oppdrag", "2020-05-08", "--participant", "grenland-styringsgruppe"],
            ["'grenland-styringsgruppe' is not a participant"],
            id="participant-not-in-audience",
        ),
        pytest.param(
            [SEED_ID, "innspill-oppdrag", "2020-04-20", "--participant", "grenland-sekretariat"],
            ["must be later than the current deadline 2020-04-27", "grenland-sekretariat"],
            id="earlier-extension",
        ),
        pytest.param(
            [SEED_ID, "innspill-oppdrag", "2020-04-27", "--participant", "grenland-sekretariat"],
            ["must be later than the current deadline 2020-04-27"],
            id="same-date-extension",
        ),
        pytest.param(
            [SEED_ID, "innspill-oppdrag", "2020-03-20"],
            ["2020-03-20 is not after the step opens (2020-03-30)"],
            id="before-opens",
        ),
        pytest.param(
            [SEED_ID, "innspill-oppdrag", "2020-07-10"],
            ["after the process ends (2020-06-30)"],
            id="after-process-ends",
        ),
        pytest.param(
            [SEED_ID, "innspill-oppdrag", "8. mai"],
            ["'8. mai' is not a date", "2020-05-08"],
            id="not-a-date",
        ),
        pytest.param(
            ["nope", "innspill-oppdrag", "2020-05-08"],
            ["no process 'nope' is loaded", SEED_ID],
            id="unknown-process",
        ),
    ],
)
def test_extend_refuses_with_a_clear_message(cli, engine, smtp, args, expected):
    invited(cli, smtp)
    events = count(engine, Event)
    out = failed(cli("extend", *args, "--at", "2020-04-22T11:00"))
    for fragment in expected:
        assert fragment in out
    assert count(engine, DeadlineChange) == 0
    assert count(engine, Event) == events


# --- preview -------------------------------------------------------------------------------


def test_preview_renders_and_sends_nothing(cli, engine, smtp, tmp_path):
    invited(cli, smtp)
    outbox, events = count(engine, OutboxMessage), count(engine, Event)
    out = ok(
        cli(
            "preview",
            SEED_ID,
            "innspill-oppdrag",
            "trondheim-sekretariat",
            "--kind",
            "reminder",
            "--at",
            "2020-04-22T10:00",
        )
    )
    first = out.splitlines()[0]
    assert first.startswith("Subject: Påminnelse")
    assert "Innspill til oppdraget" in first and "20/64758" in first
    assert "27. april 2020" in out
    assert "To: sekretariat@trondheim.byvekst.example" in out
    assert "Vår dato: 22.04.2020" in out
    assert len(smtp.received) == 9
    assert (count(engine, OutboxMessage), count(engine, Event)) == (outbox, events)
    assert not (tmp_path / "data" / "mail").exists()
    raw = ok(cli("preview", SEED_ID, "innspill-oppdrag", "trondheim-sekretariat", "--part", "raw"))
    assert "Message-ID:" in raw and "X-Innspill-Reference: 20/64758" in raw
    assert len(smtp.received) == 9 and count(engine, OutboxMessage) == outbox


def test_preview_refuses_unknown_kind_and_participant(cli, smtp):
    invited(cli, smtp)
    out = failed(cli("preview", SEED_ID, "innspill-oppdrag", "bergen-sekretariat", "--kind", "x"))
    assert "unknown kind 'x'" in out and "reminder" in out
    out = failed(cli("preview", SEED_ID, "innspill-oppdrag", "bergen-styringsgruppe"))
    assert "'bergen-styringsgruppe' is not asked for input in step 'innspill-oppdrag'" in out
    assert len(smtp.received) == 9


# --- updating a loaded process from its edited file --------------------------------------------


def test_load_of_a_moved_deadline_updates_and_notifies_those_without_answers(
    cli, engine, smtp, tmp_path
):
    invited(cli, smtp)
    answered = {"oslo-akershus-sekretariat", "bergen-sekretariat"}
    with session_scope(engine) as session:
        definition = get_definition(session, SEED_ID)
        for participant in answered:
            register_answer(
                session,
                definition,
                step_id="innspill-oppdrag",
                participant_id=participant,
                texts={"merknader": "Innspill."},
                at=oslo(2020, 4, 2, 10),
            )
    moved = edited_seed(
        tmp_path, ("deadline = 2020-04-27", "deadline = 2020-05-04"), name="moved.toml"
    )
    # Saturday 4 April: updated now, told on the next working day.
    out = ok(cli("load", str(moved), "--at", "2020-04-04T10:00"))
    assert f"{SEED_ID}: updated" in out
    assert "deadline of innspill-oppdrag: 2020-04-27 -> 2020-05-04" in out
    with Session(engine) as session:
        (change,) = session.exec(select(DeadlineChange)).all()
    assert (change.step_key, change.participant_key) == ("innspill-oppdrag", None)
    assert str(moved) in change.reason
    out = ok(cli("tick", "--at", "2020-04-04T10:30"))
    assert "0 queued" in out and len(smtp.received) == 9
    out = ok(cli("tick", "--at", "2020-04-06T09:30"))
    assert out.count("queued  deadline_changed") == 7
    new = [r for r in smtp.received[9:] if r.message["X-Innspill-Kind"] == "deadline_changed"]
    assert len(new) == 7
    receipts = [r for r in smtp.received[9:] if r.message["X-Innspill-Kind"] == "receipt"]
    assert len(receipts) == 2  # the two who answered get their receipts in the same tick
    told = {r.rcpt_tos[0] for r in new}
    assert told == SECRETARIAT_ADDRESSES - {
        "sekretariat@oslo-akershus.byvekst.example",
        "sekretariat@bergen.byvekst.example",
    }
    for message in new:
        assert message.subject.startswith("Utsatt frist: Innspill til oppdraget")
        assert "27. april 2020" in message.text() and "4. mai 2020" in message.text()
    assert count(engine, OutboxMessage, OutboxMessage.kind == "deadline_changed") == 7
    # Loading the same edited file again changes nothing.
    assert "unchanged" in ok(cli("load", str(moved), "--at", "2020-04-06T10:00"))
    assert count(engine, DeadlineChange) == 1


def test_load_dry_run_says_what_would_change_and_be_sent_and_writes_nothing(
    cli, engine, smtp, tmp_path
):
    invited(cli, smtp)
    moved = edited_seed(
        tmp_path, ("deadline = 2020-04-27", "deadline = 2020-05-04"), name="moved.toml"
    )
    events_before = count(engine, Event)
    out = ok(cli("load", str(moved), "--dry-run", "--at", "2020-04-14T10:00"))
    assert f"{SEED_ID}: would be updated (dry run: nothing written)" in out
    assert "deadline of innspill-oppdrag: 2020-04-27 -> 2020-05-04" in out
    # The nine secretariats are told of the new deadline at the next tick; the reminders
    # before the old deadline fall away, and those before the new one come.
    assert out.count("+ 2020-04-14 10:00  deadline_changed innspill-oppdrag ") == 9
    assert out.count("- 2020-04-20 09:00  reminder innspill-oppdrag ") == 9
    assert out.count("+ 2020-04-24 09:00  reminder innspill-oppdrag ") == 9
    assert count(engine, DeadlineChange) == 0 and count(engine, Event) == events_before
    # The real load then reports the same change list.
    out = ok(cli("load", str(moved), "--at", "2020-04-14T10:00"))
    assert "deadline of innspill-oppdrag: 2020-04-27 -> 2020-05-04" in out
    assert count(engine, DeadlineChange) == 1


def test_load_removing_a_messaged_secretariat_is_refused_and_writes_nothing(
    cli, engine, smtp, tmp_path
):
    invited(cli, smtp)
    block = (
        "[[participants]]\n"
        'id = "nord-jaeren-sekretariat"\n'
        'name = "Sekretariatet for byvekstavtalen i Nord-Jæren"\n'
        'role = "secretariat"\n'
        'area = "Nord-Jæren"\n'
        'email = "sekretariat@nord-jaeren.byvekst.example"\n\n'
    )
    # The deadline moves in the same edit: a refused update must not apply it either.
    removed = edited_seed(
        tmp_path,
        (block, ""),
        ("deadline = 2020-04-27", "deadline = 2020-05-04"),
        name="removed.toml",
    )
    before = process_row(engine)
    assert before is not None
    snapshot = {t.__name__: count(engine, t) for t in (Participant, Step, Event, DeadlineChange)}
    out = failed(cli("load", str(removed), "--at", "2020-04-02T10:00"))
    assert "refused" in out
    assert "participant 'nord-jaeren-sekretariat' was removed" in out
    assert "messages or answers exist for it" in out
    after = process_row(engine)
    assert after is not None
    assert after.definition_hash == before.definition_hash
    assert after.definition_json == before.definition_json
    assert after.loaded_at == before.loaded_at
    assert {t.__name__: count(engine, t) for t in (Participant, Step, Event, DeadlineChange)} == (
        snapshot
    )
    # Nothing changed, so the next tick has nothing to say.
    ok(cli("tick", "--at", "2020-04-02T10:30"))
    assert len(smtp.received) == 9


# --- tick without SMTP -----------------------------------------------------------------------


def test_tick_without_smtp_captures_eml_files(cli, engine, smtp, tmp_path):
    ok(cli("load", str(SEED), "--at", "2020-03-30T08:00", smtp_on=False))
    out = ok(cli("tick", "--at", "2020-03-30T09:30", smtp_on=False))
    mail = tmp_path / "data" / "mail"
    assert "9 sent" in out
    assert "captured as .eml files" in out and str(mail) in out
    files = sorted(mail.glob("*.eml"))
    assert len(files) == 9
    assert smtp.received == []
    recipients = []
    for path in files:
        message = email.message_from_bytes(path.read_bytes(), policy=default)
        recipients.append(str(message["To"]).rsplit("<", 1)[-1].rstrip(">"))
        assert "20/64758" in str(message["Subject"])
        assert path.name == str(message["Message-ID"]).strip("<>") + ".eml"
    assert set(recipients) == SECRETARIAT_ADDRESSES
    assert count(engine, OutboxMessage, OutboxMessage.status == "sent") == 9
    assert count(engine, OutboxMessage, OutboxMessage.status == "combined") == 9


def test_answer_add_with_a_letter_as_file_and_a_refused_fake(cli, engine, tmp_path):  # type: ignore[no-untyped-def]
    from innspill.models import Answer, AnswerAttachment

    ok(cli("load", str(SEED), "--at", "2020-03-30T08:00"))
    letter = tmp_path / "brev-fra-kristiansand.pdf"
    letter.write_bytes(b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
    out = ok(
        cli(
            "answer",
            "add",
            SEED_ID,
            "innspill-oppdrag",
            "kristiansand-sekretariat",
            "--file",
            str(letter),
            "--at",
            "2020-04-20T10:00",
        )
    )
    assert "version 1" in out
    with Session(engine) as session:
        (stored,) = session.exec(select(AnswerAttachment)).all()
    assert (stored.filename, stored.content_type) == (letter.name, "application/pdf")
    fake = tmp_path / "innspill.docx"
    fake.write_text("not a word document")
    out = failed(
        cli(
            "answer",
            "add",
            SEED_ID,
            "innspill-oppdrag",
            "kristiansand-sekretariat",
            "--text",
            "merknader=Tekst",
            "--file",
            str(fake),
            "--at",
            "2020-04-21T10:00",
        )
    )
    assert "only PDF, Word (.docx) and OpenDocument (.odt)" in out
    assert count(engine, Answer) == 1  # nothing of the refused one was kept
    assert "give the answer" in failed(
        cli("answer", "add", SEED_ID, "innspill-oppdrag", "kristiansand-sekretariat")
    )
