"""The journal: the [archive] section, numbers in every letter, receipt and document, what a
refused letter and a resend become, a process that keeps no journal, and what a reload may
change. Letters are read as they arrived at a recording SMTP server."""

from __future__ import annotations

import email
import io
import json
import re
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import docx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from innspill.config.settings import Settings
from innspill.documents.store import make_compilation, store_draft
from innspill.errors import ChangeRefused, DefinitionError
from innspill.inbound.answers import register_answer
from innspill.journal.numbers import allocate
from innspill.journal.read import NOT_DISPATCHED, process_journal
from innspill.models import JournalEntry, OutboxMessage
from innspill.models.db import session_scope, table_of
from innspill.outbound.mime import build_message
from innspill.outbound.numbering import ENCODED_SLOT, SLOT, PendingLetter
from innspill.outbound.resend import resend
from innspill.process.archive import ArchiveSection, organisation_number_problem
from innspill.process.definition import ProcessDefinition, load_definition, parse_definition
from innspill.process.loading import get_definition, store_definition
from tests.conftest import SEED, SEED_ID, Run, failed, ok, oslo, tick_and_send
from tests.smtp_sink import Received, SmtpSink

NOW = oslo(2020, 3, 30, 9, 5)  # the seed's invitations are due
OPPDRAG, RETNINGSLINJER = "innspill-oppdrag", "innspill-retningslinjer"
BERGEN, BERGEN_MAIL = "bergen-sekretariat", "sekretariat@bergen.byvekst.example"
OUR_REF = re.compile(r"Vår referanse: ([^\s<]+)")
SEED_TEXT = SEED.read_text(encoding="utf-8")
ARCHIVE = re.compile(r"\[archive\]\n(?:[^\[\n].*\n)+", re.MULTILINE)


def seed_text(archive: str | None) -> str:
    """The seed's text with its [archive] section replaced (None: left out)."""
    assert ARCHIVE.search(SEED_TEXT), "the seed has an [archive] section"
    return ARCHIVE.sub(archive or "", SEED_TEXT)


def store(engine: Engine, definition: ProcessDefinition, at: datetime) -> list[str]:
    with session_scope(engine) as session:
        return store_definition(session, definition, source="test", now=at).changes


def journal(engine: Engine) -> list[Any]:
    with Session(engine) as session:
        return process_journal(session, SEED_ID)


def parts(received: Received) -> tuple[str, str]:
    message: EmailMessage = received.message
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


def our_references(received: Received) -> list[str]:
    text, html = parts(received)
    return OUR_REF.findall(text) + OUR_REF.findall(html)


def outbox_keys(engine: Engine) -> dict[str, str]:
    """Message-ID -> outbox key."""
    t = table_of(OutboxMessage)
    with engine.connect() as conn:
        return {r.message_id: r.key for r in conn.execute(select(t.c.message_id, t.c.key))}


# --- the [archive] section ----------------------------------------------------------------


def test_organisation_numbers_are_checked_by_their_control_digit() -> None:
    assert organisation_number_problem("971032081") is None  # Statens vegvesen, the seed letter
    assert organisation_number_problem("974760673") is None  # Brønnøysundregistrene
    assert "control digit" in str(organisation_number_problem("971032082"))
    assert "9 digits" in str(organisation_number_problem("97103208"))
    assert "9 digits" in str(organisation_number_problem("971 032 081"))
    # written as a TOML number, it is the same number
    assert ArchiveSection.model_validate(
        {"creator": "Statens vegvesen", "organisation_number": 971032081}
    ).organisation_number == ("971032081")


@pytest.mark.parametrize(
    ("section", "field", "words"),
    [
        ('creator = "Statens vegvesen"\norganisation_number = "971032082"', "organisation_number",
         "control digit"),
        ('creator = "Statens vegvesen"\norganisation_number = "12345"', "organisation_number",
         "9 digits"),
        ('organisation_number = "971032081"', "creator", "required"),
        ('creator = "Statens vegvesen"\norganisation_number = "971032081"\n'
         "first_document_number = 0", "first_document_number", "greater than or equal to 1"),
        ('creator = "Statens vegvesen"\norganisation_number = "971032081"\n'
         'class_code = "<script>"', "class_code", "should match"),
        ('creator = "Statens vegvesen"\norganisation_number = "971032081"\narkivkode = "011"',
         "arkivkode", "unknown field"),
    ],
)  # fmt: skip
def test_a_wrong_archive_section_names_the_field_and_what_to_do(
    section: str, field: str, words: str
) -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(seed_text(f"[archive]\n{section}\n\n"), file="runde.toml")
    (problem,) = caught.value.problems
    assert (problem.file, problem.field) == ("runde.toml", f"archive.{field}")
    assert words in problem.message


def test_validate_says_whose_journal_or_that_it_keeps_none(cli: Run, tmp_path: Path) -> None:
    said = ok(cli("validate", str(SEED)))
    assert (
        "Journal: Statens vegvesen (org.nr. 971032081), case 20/64758, document numbers from 6"
        in said
    )
    bare = tmp_path / "uten-arkiv.toml"
    bare.write_text(seed_text(None), encoding="utf-8")
    (tmp_path / "oppdrag.md").write_bytes((SEED.parent / "oppdrag.md").read_bytes())
    assert "keeps no journal numbers" in ok(cli("validate", str(bare)))
    wrong = tmp_path / "feil.toml"
    wrong.write_text(seed_text('[archive]\ncreator = "X"\norganisation_number = "971032082"\n\n'))
    said = failed(cli("validate", str(wrong)))
    assert f"{wrong}: archive.organisation_number: 971032082 is not a valid" in said


# --- numbers in what is sent ----------------------------------------------------------------


def test_every_letter_and_receipt_carries_its_own_number_gaplessly(
    engine: Engine, settings: Settings, smtp: SmtpSink, cli: Run
) -> None:
    store(engine, load_definition(SEED), NOW - timedelta(hours=2))
    tick_and_send(engine, settings, NOW)
    # Nine letters (each carries both steps' invitations): numbers 6-14, løpenummer 1-9.
    assert len(smtp.received) == 9
    entries = journal(engine)
    assert [e.reference for e in entries] == [f"20/64758-{n}" for n in range(6, 15)]
    assert [e.journal_number for e in entries] == [f"2020/{n}" for n in range(1, 10)]
    by_key = {e.source_key: e for e in entries}
    keys = outbox_keys(engine)
    for received in smtp.received:
        entry = by_key[keys[received.message_id]]
        assert our_references(received) == [entry.reference, entry.reference]
        assert entry.entry_type == "U" and entry.correspondent_role == "recipient"
        assert entry.correspondent_address == received.rcpt_tos[0]
        # the letter's own subject, in its language (Bergen writes nynorsk)
        assert entry.title.startswith(
            "Invitasjon til innspel i to delar"
            if received.rcpt_tos == [BERGEN_MAIL]
            else "Invitasjon til innspill i to deler"
        )
        assert "vår ref" not in entry.title
        assert entry.due == date(2020, 4, 27) and entry.journal_date == date(2020, 3, 30)
        assert entry.dispatch == "dispatched" and entry.sent_at is not None
    # the carried invitations (combined rows) have no entries of their own
    t = table_of(OutboxMessage)
    with engine.connect() as conn:
        combined = conn.execute(select(t.c.key).where(t.c.status == "combined")).scalars().all()
    assert len(combined) == 9 and not set(combined) & set(by_key)

    # An answer through the form, and its receipt naming the answer's number.
    answered = oslo(2020, 4, 2, 14)
    with session_scope(engine) as session:
        register_answer(
            session,
            get_definition(session, SEED_ID),
            step_id=OPPDRAG,
            participant_id=BERGEN,
            texts={"merknader": "Sekretariatet bør være partsnøytralt."},
            at=answered,
            channel="form",
        )
    smtp.received.clear()
    tick_and_send(engine, settings, oslo(2020, 4, 3, 9, 5))
    (receipt,) = smtp.received
    answer, letter = journal(engine)[9:]
    assert (answer.reference, answer.entry_type, answer.source) == ("20/64758-15", "I", "answer")
    assert answer.correspondent_name == "Sekretariatet for byvekstavtalen i Bergen"
    assert answer.title == "Innspill til oppdraget – Sekretariatet for byvekstavtalen i Bergen"
    assert answer.received_at == answered and answer.journal_date == date(2020, 4, 2)
    assert letter.reference == "20/64758-16" and our_references(receipt) == ["20/64758-16"] * 2
    text, html = parts(receipt)
    # Bergen writes nynorsk
    assert "Innspelet er journalført med vår referanse 20/64758-15." in text
    assert "Innspelet er journalført med vår referanse 20/64758-15." in html

    # `innspill journal` and `status` say the same.
    listing = ok(cli("journal", SEED_ID))
    assert "20/64758-15    2020/10" in listing
    assert "from Sekretariatet for byvekstavtalen i Bergen" in listing
    data = json.loads(ok(cli("journal", SEED_ID, "--json")))
    assert data["keeps_numbers"] is True and len(data["entries"]) == 11
    assert data["entries"][9]["source_key"] == f"{SEED_ID}/{OPPDRAG}/{BERGEN}/1"
    status = json.loads(ok(cli("status", SEED_ID, "--json", "--at", "2020-04-03T10:00")))
    assert status[0]["journal"] == {"keeps_numbers": True, "entries": 11, "last": "20/64758-16"}
    assert "journal: 11 entries, last 20/64758-16" in ok(
        cli("status", SEED_ID, "--at", "2020-04-03T10:00")
    )


def test_a_nynorsk_participant_gets_the_numbers_in_nynorsk(
    engine: Engine, settings: Settings, smtp: SmtpSink
) -> None:
    seed = load_definition(SEED)
    people = [
        p.model_copy(update={"language": "nn"}) if p.id == BERGEN else p for p in seed.participants
    ]
    store(engine, seed.model_copy(update={"participants": people}), NOW - timedelta(hours=2))
    tick_and_send(engine, settings, NOW)
    with session_scope(engine) as session:
        register_answer(
            session,
            get_definition(session, SEED_ID),
            step_id=OPPDRAG,
            participant_id=BERGEN,
            texts={"merknader": "Sekretariatet bør vere partsnøytralt."},
            at=oslo(2020, 4, 2, 14),
            channel="form",
        )
    tick_and_send(engine, settings, oslo(2020, 4, 3, 9, 5))
    invitation, receipt = smtp.handler.to(BERGEN_MAIL)
    assert "Behandlande eining" in parts(invitation)[0]
    assert our_references(invitation) == ["20/64758-7"] * 2
    assert our_references(receipt) == ["20/64758-16"] * 2
    text, html = parts(receipt)
    assert "Innspelet er journalført med vår referanse 20/64758-15." in text
    assert "Innspelet er journalført med vår referanse 20/64758-15." in html


def test_compilations_and_drafts_are_journaled_and_show_their_number(engine: Engine) -> None:
    store(engine, load_definition(SEED), NOW - timedelta(hours=2))
    made = oslo(2020, 6, 2, 9)
    with session_scope(engine) as session:
        definition = get_definition(session, SEED_ID)
        register_answer(
            session,
            definition,
            step_id=RETNINGSLINJER,
            participant_id=BERGEN,
            texts={"okonomi": "Kostnadsstyring i porteføljen."},
            at=made - timedelta(days=3),
        )
        compilation = make_compilation(session, definition, "sammenstilling", now=made)
        draft = store_draft(
            session,
            definition,
            "oversendelse",
            b"%PDF-1.4\n%\xe2\xe3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
            name="utkast.pdf",
            now=made + timedelta(days=1),
            by="kari",
        )
    answer, made_entry, draft_entry = journal(engine)
    assert answer.reference == "20/64758-6"
    assert (made_entry.reference, made_entry.entry_type) == ("20/64758-7", "X")
    assert made_entry.title == "Sammenstilling av innspill til retningslinjene, versjon 1"
    assert made_entry.correspondent_role == "internal_sender"
    assert made_entry.correspondent_name == "Vegdirektoratet"
    assert made_entry.document_id == compilation.id
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(compilation.content)).paragraphs)
    assert "Vår referanse: 20/64758-7" in text
    assert "Vår referanse: 20/64758-7" in (compilation.html or "")
    assert (draft_entry.reference, draft_entry.entry_type) == ("20/64758-8", "N")
    assert draft_entry.document_id == draft.id and draft_entry.registered_by == "kari"
    assert draft_entry.filename == "utkast.pdf"


def test_the_compilation_mail_shows_the_compilation_number(
    engine: Engine, settings: Settings, smtp: SmtpSink
) -> None:
    store(engine, load_definition(SEED), NOW - timedelta(hours=2))
    with session_scope(engine) as session:
        register_answer(
            session,
            get_definition(session, SEED_ID),
            step_id=RETNINGSLINJER,
            participant_id=BERGEN,
            texts={"okonomi": "Kostnadsstyring."},
            at=oslo(2020, 5, 20, 12),
        )
    smtp.received.clear()
    # the day after the deadline in effect (1 June 2020 was Whit Monday: it ran to 2 June)
    tick_and_send(engine, settings, oslo(2020, 6, 3, 9, 5))
    mails = [r for r in smtp.received if r.message["X-Innspill-Kind"] == "compilation"]
    (mail,) = mails
    (made,) = [e for e in journal(engine) if e.source == "compilation"]
    assert our_references(mail) == [made.reference] * 2
    # the mail is how the compilation reaches the drafters: no entry of its own
    keys = outbox_keys(engine)
    assert keys[mail.message_id] not in {e.source_key for e in journal(engine)}


def test_a_letter_refused_for_good_stays_in_the_journal_and_its_resend_gets_a_new_number(
    engine: Engine, settings: Settings, smtp: SmtpSink
) -> None:
    store(engine, load_definition(SEED), NOW - timedelta(hours=2))
    smtp.handler.refuse[BERGEN_MAIL] = "550 5.1.1 No such user"
    tick_and_send(engine, settings, NOW)
    entries = journal(engine)
    assert len(entries) == 9
    (refused,) = [e for e in entries if e.participant_key == BERGEN]
    assert refused.dispatch == NOT_DISPATCHED and refused.sent_at is None
    assert refused.error is not None and "550" in refused.error
    assert all(e.dispatch == "dispatched" for e in entries if e is not refused)

    fixed = "post@bergen.byvekst.example"
    seed = load_definition(SEED)
    people = [
        p.model_copy(update={"email": fixed}) if p.id == BERGEN else p for p in seed.participants
    ]
    store(engine, seed.model_copy(update={"participants": people}), NOW + timedelta(hours=1))
    later = NOW + timedelta(hours=1, minutes=5)
    with session_scope(engine) as session:
        _, new = resend(session, refused.message_id or 0, now=later, by="kari")
        new_key = new.key
    tick_and_send(engine, settings, later)
    entries = journal(engine)
    again = next(e for e in entries if e.source_key == new_key)
    assert again.reference == "20/64758-15" and again.registered_by == "kari"
    assert again.correspondent_address == fixed and again.dispatch == "dispatched"
    assert [e.dispatch for e in entries if e.source_key == refused.source_key] == [NOT_DISPATCHED]
    (arrived,) = [r for r in smtp.received if fixed in r.rcpt_tos]
    assert our_references(arrived) == ["20/64758-15"] * 2


# --- a process without a journal, and reloads -----------------------------------------------


def test_a_process_without_archive_runs_and_says_it_keeps_no_numbers(
    engine: Engine, settings: Settings, smtp: SmtpSink, cli: Run, tmp_path: Path
) -> None:
    bare = tmp_path / "uten-arkiv.toml"
    bare.write_text(seed_text(None), encoding="utf-8")
    (tmp_path / "oppdrag.md").write_bytes((SEED.parent / "oppdrag.md").read_bytes())
    loaded = ok(cli("load", str(bare), "--at", "2020-03-30T08:00"))
    assert "keeps no journal numbers" in loaded
    tick_and_send(engine, settings, NOW)
    assert len(smtp.received) == 9
    for received in smtp.received:
        assert our_references(received) == ["20/64758", "20/64758"]
    assert journal(engine) == []
    assert "keeps no journal numbers" in ok(cli("status", SEED_ID, "--at", "2020-03-30T10:00"))
    assert "keeps no journal numbers" in ok(cli("journal", SEED_ID))
    status = json.loads(ok(cli("status", SEED_ID, "--json", "--at", "2020-03-30T10:00")))
    assert status[0]["journal"] == {"keeps_numbers": False, "entries": 0, "last": None}


def test_archive_may_be_added_before_numbers_exist_and_never_changed_after(
    engine: Engine, settings: Settings, smtp: SmtpSink
) -> None:
    without = parse_definition(seed_text(None))
    store(engine, without, NOW - timedelta(hours=2))
    tick_and_send(engine, settings, NOW)  # the invitations go out without numbers
    assert journal(engine) == []

    changes = store(engine, load_definition(SEED), NOW + timedelta(hours=1))
    assert any("[archive] added" in c for c in changes)
    with session_scope(engine) as session:
        register_answer(
            session,
            get_definition(session, SEED_ID),
            step_id=OPPDRAG,
            participant_id=BERGEN,
            texts={"merknader": "Svar."},
            at=NOW + timedelta(hours=2),
        )
    assert [e.reference for e in journal(engine)] == ["20/64758-6"]

    moved = seed_text(
        '[archive]\ncreator = "Statens vegvesen"\norganisation_number = "971032081"\n'
        "first_document_number = 9\n\n"
    )
    for text, what in ((moved, "changed"), (seed_text(None), "removed")):
        with pytest.raises(ChangeRefused) as caught:
            store(engine, parse_definition(text), NOW + timedelta(hours=3))
        assert f"the [archive] section was {what}" in str(caught.value)
        assert "1 journal entries" in str(caught.value)


# --- the numbers themselves -----------------------------------------------------------------


def test_numbers_taken_in_a_rolled_back_transaction_are_taken_again(engine: Engine) -> None:
    store(engine, load_definition(SEED), NOW)
    archive = load_definition(SEED).archive
    assert archive is not None
    with Session(engine) as session:
        taken = allocate(session, archive, "20/64758", 3, now=NOW)
        session.rollback()
    with session_scope(engine) as session:
        again = allocate(session, archive, "20/64758", 2, now=NOW)
    assert [n.reference for n in taken] == ["20/64758-6", "20/64758-7", "20/64758-8"]
    assert [n.reference for n in again] == ["20/64758-6", "20/64758-7"]
    assert [n.sequence for n in again] == [1, 2]


def test_a_new_year_starts_the_løpenummer_again_and_a_case_keeps_counting(
    engine: Engine,
) -> None:
    store(engine, load_definition(SEED), NOW)
    archive = load_definition(SEED).archive
    assert archive is not None
    other = archive.model_copy(update={"first_document_number": 2})  # a second round, same case
    with session_scope(engine) as session:
        first = allocate(session, archive, "20/64758", 2, now=oslo(2020, 12, 31, 23, 30))
        later = allocate(session, other, "20/64758", 1, now=oslo(2021, 1, 1, 0, 30))
        elsewhere = allocate(session, other, "21/100", 1, now=oslo(2021, 1, 4, 9))
    assert [(n.year, n.sequence, n.reference) for n in first] == [
        (2020, 1, "20/64758-6"),
        (2020, 2, "20/64758-7"),
    ]
    assert (later[0].year, later[0].sequence, later[0].reference) == (2021, 1, "20/64758-8")
    assert (elsewhere[0].sequence, elsewhere[0].reference) == (2, "21/100-2")


def test_a_letter_whose_number_the_encoder_split_is_built_again() -> None:
    long_line = "x" * 65 + SLOT  # quoted-printable breaks this line inside the slot
    values: dict[str, Any] = dict(
        sender_name="Statens vegvesen, Vegdirektoratet",
        sender_address="byvekst-innspill@vegvesen.example",
        recipient_name="Sekretariatet for byvekstavtalen i Bergen",
        recipient_address=BERGEN_MAIL,
        reply_to="byvekst-innspill@vegvesen.example",
        subject="Påminnelse",
        text=f"Vår referanse: {SLOT}\n",
        html=f"<p>{long_line}</p>",
        message_id="<innspill.test@vegvesen.example>",
        date=NOW,
    )
    raw = build_message(**values)
    assert raw.count(ENCODED_SLOT) == 1  # the text's; the HTML's was split
    letter = PendingLetter(raw, values, title="Påminnelse", name="Bergen")
    built = email.message_from_bytes(letter.build("20/64758-12"), policy=default)
    html = built.get_body(preferencelist=("html",))
    text = built.get_body(preferencelist=("plain",))
    assert html is not None and text is not None
    assert "x" * 65 + "20/64758-12" in html.get_content()
    assert "Vår referanse: 20/64758-12" in text.get_content()
    assert SLOT not in html.get_content() + text.get_content()
    # the usual case: patched in place, the same bytes as built with the number
    short = dict(values, html=f"<p>Vår referanse: {SLOT}</p>")
    patched = PendingLetter(build_message(**short), short, title="", name="").build("20/64758-12")
    numbered = "Vår referanse: 20/64758-12"
    direct = dict(short, text=f"{numbered}\n", html=f"<p>{numbered}</p>")
    assert patched == build_message(**direct)


def test_an_insert_that_forgets_to_number_a_letter_fails(engine: Engine) -> None:
    """A pending letter's row has no bytes until it is numbered: it cannot be stored without."""
    store(engine, load_definition(SEED), NOW - timedelta(hours=2))
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from innspill.outbound.compose import compose
    from innspill.planning.planner import plan
    from innspill.planning.state import load_state

    with session_scope(engine) as session:
        definition = get_definition(session, SEED_ID)
        action = next(a for a in plan(definition, load_state(session, definition), NOW) if a.sends)
        row = compose(session, definition, action, now=NOW)
    assert row["raw"] is None
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(table_of(OutboxMessage)), [row])
    with engine.connect() as conn:
        assert conn.execute(select(table_of(JournalEntry))).all() == []
