"""Texts per language in process files: `{ nb = "...", nn = "..." }` or a plain string in the
process's language; what `validate` says of a participant whose language lacks a text; the one
accessor (ProcessDefinition.in_language) in letters read back from the SMTP server, the answer
form and the compilation; the wording of the mail (subjects, numbers, references, phone)."""

from __future__ import annotations

import email
import re
from email.policy import default
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from innspill.config.settings import Settings
from innspill.documents.store import make_compilation
from innspill.inbound.answers import register_answer
from innspill.models import Document, OutboxMessage
from innspill.models.db import session_scope
from innspill.process.definition import (
    ProcessDefinition,
    RequestStep,
    definition_hash,
    load_definition,
    parse_definition,
)
from innspill.process.loading import get_definition
from innspill.process.text_checks import missing_translations
from innspill.process.texts import Text, variants
from tests.conftest import (
    SEED,
    SEED_ID,
    Run,
    copy_seed_files,
    failed,
    load_seed,
    oslo,
    tick_and_send,
)

SEED_TEXT = SEED.read_text(encoding="utf-8")


def edited(tmp_path: Path, *replacements: tuple[str, str], name: str = "prosess.toml") -> Path:
    text = SEED_TEXT
    for old, new in replacements:
        assert text.count(old) == 1, f"the edit is ambiguous or stale: {old!r}"
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    copy_seed_files(tmp_path)
    return path


@pytest.fixture(scope="module")
def seed() -> ProcessDefinition:
    return load_definition(SEED)


# --- the format ------------------------------------------------------------------------------


def test_a_table_is_the_process_language_to_everyone_but_its_readers(
    seed: ProcessDefinition,
) -> None:
    step = seed.step("innspill-oppdrag")
    # Everything that reads the process's language (dashboard, status, log) reads a string.
    assert step.title == "Innspill til oppdraget" and isinstance(step.title, str)
    assert isinstance(step.title, Text) and step.title.texts == {
        "nb": "Innspill til oppdraget",
        "nn": "Innspel til oppdraget",
    }
    nn = seed.in_language("nn")
    nn_step = nn.step("innspill-oppdrag")
    assert isinstance(nn_step, RequestStep)
    assert nn_step.title == "Innspel til oppdraget"
    assert nn.process.title == "Innspel til retningslinjer for sekretariata for byvekstavtalane"
    assert nn.sender.signature_title == "Direktør, Avdeling for økonomi- og verksemdsstyring"
    assert [t.title for t in nn.themes_of(nn_step)] == [
        "Merknader til forslaget til oppdrag",
        "Behandling i styringsgruppa",
    ]
    assert nn_step.intro[2].startswith("Vi ber om at oppdraget blir teke opp som sak")
    assert [getattr(a, "label", a) for a in nn_step.attachments] == [
        "Forslag til oppdrag (oppdrag.pdf)"
    ]
    meeting = nn.step("halvdagsmote")
    assert meeting.title == "Halvdagsmøte om innspela"
    assert meeting.agenda[0] == "Velkomen og gjennomgang av samanstillinga"  # type: ignore[union-attr]
    # Names, ids, dates and addresses are the same in every language; the views are made once.
    assert nn.participants is seed.participants and nn.process.reference == "20/64758"
    assert seed.in_language("nn") is nn and seed.in_language("nb") is seed
    assert nn.in_language("nb") is seed
    # A language the file does not give falls back to the process's.
    assert seed.in_language("se").step("innspill-oppdrag").title == "Innspill til oppdraget"


def test_tables_are_kept_when_stored_and_change_the_hash(seed: ProcessDefinition) -> None:
    again = ProcessDefinition.model_validate_json(seed.model_dump_json())
    assert again.in_language("nn").step("oversendelse").title == (
        "Utkast til retningslinjer for sekretariata – til behandling i styringsgruppa"
    )
    assert definition_hash(again) == definition_hash(seed)
    changed = parse_definition(
        SEED_TEXT.replace('nn = "Innspel til oppdraget" }', 'nn = "Innspel til oppdraget!" }')
    )
    assert definition_hash(changed) != definition_hash(seed)
    assert changed.step("innspill-oppdrag").title == seed.step("innspill-oppdrag").title
    assert variants(changed.step("innspill-oppdrag").title) == [
        "Innspill til oppdraget",
        "Innspel til oppdraget!",
    ]


def test_a_bad_text_in_one_language_is_named_with_its_language(tmp_path: Path, cli: Run) -> None:
    path = edited(
        tmp_path,
        ('nn = "Innspel til oppdraget" }', 'nn = "Innspel\\ntil oppdraget" }'),
        ('title = { nb = "Halvdagsmøte om innspillene",', 'title = { nb = "",'),
    )
    output = " ".join(failed(cli("validate", str(path))).split())
    assert f"{path}: steps[0].title.nn: must be a single line" in output
    assert f"{path}: steps[4].title.nb: String should have at least 1 character" in output
    assert "2 problem(s)" in output


# --- what validate says ----------------------------------------------------------------------


def test_validate_names_each_text_a_participant_lacks_in_their_language(
    tmp_path: Path, cli: Run
) -> None:
    """Bergen's secretariat writes nynorsk: a plain (bokmål) paragraph of part 2's intro is
    reported at its field, naming who reads it; the steering group does not read it."""
    old_intro = SEED_TEXT[SEED_TEXT.index('  { nb = "Sekretariatet er styringsgruppens') :]
    old_intro = old_intro[: old_intro.index("\n")]
    plain = '  "Sekretariatet er styringsgruppens felles apparat.",'
    path = edited(tmp_path, (old_intro, plain))
    output = " ".join(failed(cli("validate", str(path))).split())
    assert (
        f"{path}: steps[1].intro[0]: no nn text for participants[1] (bergen-sekretariat), "
        'who read nn; give the text as a table: { nb = "...", nn = "..." }'
    ) in output
    assert "1 problem(s)" in output
    # load refuses it too, and writes nothing
    assert "steps[1].intro[0]: no nn text" in " ".join(
        failed(cli("load", str(path), "--at", "2020-03-30T08:00")).split()
    )


def test_every_reader_of_a_text_is_named_and_a_table_needs_the_process_language(
    tmp_path: Path, cli: Run
) -> None:
    path = edited(
        tmp_path,
        # the process's title: every participant reads it, both of Bergen's nynorsk
        (
            'title = { nb = "Innspill til retningslinjer for sekretariatene for byvekstavtalene", '
            'nn = "Innspel til retningslinjer for sekretariata for byvekstavtalane" }',
            'title = "Innspill til retningslinjer for sekretariatene for byvekstavtalene"',
        ),
        # a table without bokmål, the process's language
        ('title = { nb = "Organisering", nn = "Organisering" }', 'title = { nn = "Organisering" }'),
    )
    output = " ".join(failed(cli("validate", str(path))).split())
    assert (
        "process.title: no nn text for participants[1] (bergen-sekretariat), "
        "participants[10] (bergen-styringsgruppe), who read nn"
    ) in output
    assert (
        "themes[5].title: no nb text: a table must also give the text in the process's "
        'language (nb), e.g. { nb = "...", nn = "..." }'
    ) in output


def test_only_the_texts_a_participant_reads_are_asked_of_their_language(
    seed: ProcessDefinition,
) -> None:
    """A nynorsk drafter reads the compilations (their source steps and themes), the meeting,
    the case and the signature: not the circulation's title."""
    drafter = "vegdirektoratet-utredning"
    participants = [
        p.model_copy(update={"language": "nn"}) if p.id == drafter else p for p in seed.participants
    ]
    plain = seed.model_copy(
        update={
            "participants": participants,
            "steps": [
                s.model_copy(
                    update={
                        # plain strings, as a file without tables gives them
                        "title": Text(str(s.title)),
                        "intro": [Text(str(i)) for i in getattr(s, "intro", [])],
                    }
                )
                if s.kind in ("circulation", "request")
                else s
                for s in seed.steps
            ],
        }
    )
    drafters = "participants[18] (vegdirektoratet-utredning)"
    fields = [p.field for p in missing_translations(plain, "p.toml") if drafters in p.message]
    # The compilations show their source steps' titles (and themes, given in both here);
    # the circulation (steps[5]) goes to the steering groups, the invitations' intros to
    # the secretariats (Bergen's nynorsk one is named for those, not the drafter).
    assert fields == ["steps[0].title", "steps[1].title"]


# --- what participants read ------------------------------------------------------------------


def _sent(engine: Engine, participant: str) -> list[email.message.EmailMessage]:
    with Session(engine) as session:
        rows = session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.participant_key == participant, OutboxMessage.raw != b"")
            .order_by(OutboxMessage.id)  # type: ignore[arg-type]
        ).all()
    return [email.message_from_bytes(r.raw, policy=default) for r in rows]  # type: ignore[misc]


def test_the_invitation_read_back_from_the_smtp_server_in_nynorsk_and_bokmal(
    engine: Engine, settings: Settings, smtp
) -> None:  # type: ignore[no-untyped-def]
    load_seed(engine)
    tick_and_send(engine, settings, oslo(2020, 3, 30, 9, 30))
    (bergen,) = smtp.handler.to("sekretariat@bergen.byvekst.example")
    (oslo_,) = smtp.handler.to("sekretariat@oslo-akershus.byvekst.example")
    nn = bergen.text().replace("\r\n", "\n")
    nb = oslo_.text().replace("\r\n", "\n")
    assert bergen.subject.startswith(
        "Invitasjon til innspel i to delar: Retningslinjer for sekretariata (vår ref. 20/64758)"
    )
    assert oslo_.subject.startswith(
        "Invitasjon til innspill i to deler: Retningslinjer for sekretariatene (vår ref. 20/64758)"
    )
    # Bergen's own reference in its letter head; the case officer's phone in the signature.
    assert "\nVår dato: 30.03.2020\nDykkar referanse: 2020/1187\n" in nn
    assert "Deres referanse" not in nb and "Dykkar referanse" not in nb
    assert "\nSaksbehandlar: Kari Nordmann, telefon 00 00 00 00\n" in nn
    assert "\nSaksbehandler: Kari Nordmann, telefon 00 00 00 00\n" in nb
    # The first letter opens with the matter; "two parts" in words.
    assert "Vi ber om innspel i saka «Innspel til retningslinjer for sekretariata for" in nn
    assert "Innspelet ber vi om i to delar" in " ".join(nn.split())
    assert "Vi viser til" not in nn and "Vi viser til" not in nb
    # Every text from the process file in the reader's written form.
    flat_nn = " ".join(nn.split())
    for phrase in (
        "Del 1: Innspel til oppdraget – frist måndag 27. april 2020",
        "Del 2: Innspel til retningslinjer for sekretariata – frist tysdag 2. juni 2020",
        "I denne delen ber vi om merknadene dykkar til forslaget til oppdrag",
        "1. Merknader til forslaget til oppdrag - Har de merknader til forslaget til oppdrag",
        "2. Behandling i styringsgruppa - Når tek styringsgruppa opp oppdraget som sak?",
        "2. Kommunikasjon, representasjon og møteverksemd",
        "Vedlegg: Forslag til oppdrag (oppdrag.pdf)",
        "Direktør, Avdeling for økonomi- og verksemdsstyring",
    ):
        assert phrase in flat_nn, phrase
    for bokmal in ("Innspill", "Hva", "Hvordan", "virksomhet", "styringsgruppen", "dere"):
        assert not re.search(rf"\b{bokmal}\b", re.sub(r"\S+@\S+", "", nn)), bokmal
    html = bergen.message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert '<html lang="nn">' in html and "<h2>Del 1: Innspel til oppdraget</h2>" in html
    assert "Dykkar referanse: 2020/1187" in html
    assert "<p>Saksbehandlar: Kari Nordmann, telefon 00 00 00 00</p>" in html


def test_a_participants_own_reference_heads_every_letter_to_it(
    engine: Engine, settings: Settings, smtp
) -> None:  # type: ignore[no-untyped-def]
    """Nord-Jæren's steering group has a reference of its own: its circulation says so."""
    from innspill.demo.scenario import draft_document
    from innspill.documents.store import register_draft

    load_seed(engine)
    tick_and_send(engine, settings, oslo(2020, 3, 30, 9, 30))
    draft = Path(settings.data_dir) / "utkast.docx"
    draft.parent.mkdir(parents=True, exist_ok=True)
    draft.write_bytes(draft_document())
    with session_scope(engine) as session:
        register_draft(
            session,
            get_definition(session, SEED_ID),
            "oversendelse",
            draft,
            now=oslo(2020, 6, 10, 9),
        )
    tick_and_send(engine, settings, oslo(2020, 6, 10, 14))
    (letter,) = smtp.handler.to("styringsgruppe@nord-jaeren.byvekst.example")
    text = letter.text().replace("\r\n", "\n")
    assert "\nVår dato: 10.06.2020\nDeres referanse: 20/00412\n" in text
    assert letter.subject.startswith(
        "Utkast til retningslinjer for sekretariatene – til behandling i styringsgruppen "
        "(vår ref. 20/64758)"
    )
    (nynorsk,) = smtp.handler.to("styringsgruppe@bergen.byvekst.example")
    assert nynorsk.subject.startswith(
        "Utkast til retningslinjer for sekretariata – til behandling i styringsgruppa"
    )
    assert "Til: Styringsgruppa for byvekstavtalen i Bergen" in nynorsk.text()


def test_the_compilation_is_in_its_drafters_language(engine: Engine, tmp_path: Path) -> None:
    """The drafters read the compilation: written in their language when they share one."""
    text = SEED_TEXT.replace(
        'email = "utkast@vegvesen.example"\n',
        'email = "utkast@vegvesen.example"\nlanguage = "nn"\n',
    )
    path = tmp_path / "nn-drafters.toml"
    path.write_text(text, encoding="utf-8")
    copy_seed_files(tmp_path)
    load_seed(engine, path)
    with session_scope(engine) as session:
        definition = get_definition(session, SEED_ID)
        register_answer(
            session,
            definition,
            step_id="innspill-oppdrag",
            participant_id="oslo-akershus-sekretariat",
            texts={"styringsgruppe": "I møtet 15. april."},
            at=oslo(2020, 4, 2, 10),
        )
        document = make_compilation(
            session, definition, "sammenstilling-oppdrag", now=oslo(2020, 4, 28, 9)
        )
        document_id = document.id
    with Session(engine) as session:
        stored = session.get(Document, document_id)
        assert stored is not None and stored.html
        html = stored.html
    assert "Innspel til oppdraget" in html and "Behandling i styringsgruppa" in html
    assert "Når tek styringsgruppa opp oppdraget som sak?" in html
    assert "Innspill til oppdraget" not in html


def test_every_answer_a_nynorsk_participant_gets_is_nynorsk(engine: Engine, settings, smtp) -> None:  # type: ignore[no-untyped-def]
    """Bergen answers part 1 by mail in nynorsk: its receipt names the nynorsk part and
    themes; the reply placed by its nynorsk headings."""
    from innspill.demo.scenario import reply_mail
    from innspill.inbound.intake import import_mail

    load_seed(engine)
    tick_and_send(engine, settings, oslo(2020, 3, 30, 9, 30))
    at = oslo(2020, 4, 8, 13, 40)
    with session_scope(engine) as session:
        definition = get_definition(session, SEED_ID)
        raw = reply_mail(
            session,
            definition,
            "innspill-oppdrag",
            "bergen-sekretariat",
            at,
            texts={"merknader": "Ingen merknader.", "styringsgruppe": "Møtet 23. april 2020."},
        )
        assert b"Del 1" in raw
        row = import_mail(session, raw, source="t", uid="1", received_at=at, now=at).message
        assert (row.status, row.step_key) == ("accepted", "innspill-oppdrag"), row.reason
    tick_and_send(engine, settings, oslo(2020, 4, 8, 14))
    receipt = smtp.handler.to("sekretariat@bergen.byvekst.example")[-1]
    assert receipt.subject.startswith(
        "Kvittering for innspel til oppdraget – retningslinjer for sekretariata (vår ref."
    )
    text = receipt.text().replace("\r\n", "\n")
    assert "Gjeld:    Innspel til oppdraget\n" in text
    assert (
        "\nBehandling i styringsgruppa\n~~~~~~~~~~~~~~~~~~~~~~~~~~~\nMøtet 23. april 2020.\n"
        in (text)
    )


def test_loading_a_changed_translation_says_which(engine: Engine, tmp_path: Path) -> None:
    from innspill.process.loading import load_file

    load_seed(engine)
    path = edited(
        tmp_path,
        ('nn = "Innspel til oppdraget" }', 'nn = "Innspel til forslaget til oppdrag" }'),
    )
    with session_scope(engine) as session:
        report = load_file(session, path, now=oslo(2020, 3, 30, 8, 30))
    assert (report.outcome, report.changes) == ("updated", ["nn text of steps[0].title"])
    with Session(engine) as session:
        assert get_definition(session, SEED_ID).in_language("nn").step(
            "innspill-oppdrag"
        ).title == ("Innspel til forslaget til oppdrag")


def test_a_changed_copy_has_its_own_views(seed: ProcessDefinition) -> None:
    """Views are cached on the definition: a copy with other steps must not get the original's
    (pydantic's model_copy would carry the cache along), and a language the file does not give
    falls back to the process's texts, whichever view it is asked of."""
    nn = seed.in_language("nn")
    moved = seed.model_copy(update={"steps": seed.steps[:2]})
    assert moved.in_language("nn") is not nn and len(moved.in_language("nn").steps) == 2
    assert nn.in_language("se").step("innspill-oppdrag").title == "Innspill til oppdraget"
    _ = seed.participant("bergen-sekretariat")
    fewer = seed.model_copy(update={"participants": seed.participants[:1]})
    with pytest.raises(KeyError):
        fewer.participant("bergen-sekretariat")
