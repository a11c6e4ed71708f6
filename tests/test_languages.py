"""Languages: which have a complete set of templates, what `validate` and `load` say about the
others, and that each participant gets mail and the answer form in their own language."""

from __future__ import annotations

import email
import re
import shutil
from collections.abc import Iterator
from email.policy import default
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from innspill.config.settings import Settings
from innspill.dashboard.answer.texts import TEXTS
from innspill.dashboard.app import create_app
from innspill.dashboard.deps import get_now
from innspill.demo import run as demo
from innspill.models import MessageStatus, OutboxMessage, Process, TokenPurpose
from innspill.models.db import make_engine, session_scope
from innspill.outbound import languages
from innspill.outbound.languages import (
    MESSAGE_KINDS,
    complete_languages,
    kind_templates,
    language_problems,
    missing_templates,
)
from innspill.outbound.templates import TEMPLATES
from innspill.outbound.transport import CaptureTransport
from innspill.process.definition import parse_definition
from innspill.process.loading import get_definition
from innspill.tokens import issue
from tests.conftest import (
    SEED,
    SEED_ID,
    TEST_DATABASE,
    Run,
    copy_seed_files,
    failed,
    load_seed,
    new_database,
    ok,
)
from tests.conftest import oslo as at_oslo
from tests.test_answer_form import FormPage, get, post

#: Who writes nynorsk in the tests: in the demo's round these get every kind of message between
#: them (Grenland an extended deadline, Kristiansand overdue reminders, Tromsø's steering group
#: treatment reminders, the drafters the compilation).
NN_PARTICIPANTS = {
    "bergen-sekretariat",  # nynorsk in the seed itself
    "trondheim-sekretariat",
    "grenland-sekretariat",
    "kristiansand-sekretariat",
    "nedre-glomma-sekretariat",  # late on 3 June: the overdue reminder and the late receipt
    "bergen-styringsgruppe",
    "tromso-styringsgruppe",
    "vegdirektoratet-utredning",
}


def seed_with(languages_by_id: dict[str, str], process_language: str = "nb") -> str:
    """The seed file's text with `language = ...` set for the given participants (the seed
    gives Bergen's nynorsk; every other participant has the process's language)."""
    text = SEED.read_text(encoding="utf-8")
    text = text.replace('language = "nb"', f'language = "{process_language}"', 1)
    for participant_id, language in languages_by_id.items():
        marker = f'id = "{participant_id}"\n'
        assert marker in text
        start = text.index(marker)
        end = text.index("\n[[", start)
        block = re.sub(r'\nlanguage = "[a-z]+"', "", text[start:end])
        text = (
            text[:start] + block.replace(marker, f'{marker}language = "{language}"\n') + text[end:]
        )
    return text


def write(tmp_path: Path, text: str, name: str = "prosess.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    copy_seed_files(tmp_path)
    return path


# --- which languages are complete -----------------------------------------------------------


def test_bokmal_and_nynorsk_have_every_template() -> None:
    assert complete_languages() == ["nb", "nn"]
    assert "meeting_cancel" in MESSAGE_KINDS and "compile" not in MESSAGE_KINDS
    for language in ("nb", "nn"):
        assert missing_templates(language) == []
        for name in kind_templates(language):
            assert (TEMPLATES / name).is_file(), name
    # Every nb file has its nn twin, the shared parts included.
    for path in TEMPLATES.glob("*.nb.*"):
        assert (TEMPLATES / path.name.replace(".nb.", ".nn.")).is_file(), path.name


def test_a_missing_kind_file_or_part_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    shutil.copytree(TEMPLATES, folder)
    (folder / "receipt.nn.html").unlink()
    # A part only the meeting kinds include: found by following their includes.
    (folder / "_meeting.nn.txt").unlink()
    assert sorted(missing_templates("nn", folder)) == ["_meeting.nn.txt", "receipt.nn.html"]
    assert missing_templates("nb", folder) == []
    assert complete_languages(folder) == ["nb"]
    # A language with no files at all lacks every kind file.
    assert missing_templates("se", folder) == kind_templates("se")


def test_problems_name_the_file_the_field_and_the_templates(tmp_path: Path) -> None:
    definition = parse_definition(
        seed_with({"trondheim-sekretariat": "se", "bergen-sekretariat": "nn"}, "nn"),
        file="prosess.toml",
    )
    problems = language_problems(definition, file="prosess.toml")
    assert [(p.file, p.field) for p in problems] == [("prosess.toml", "participants[2].language")]
    assert "no e-mail templates in language 'se'" in problems[0].message
    assert "(complete: nb, nn)" in problems[0].message

    folder = tmp_path / "templates"
    shutil.copytree(TEMPLATES, folder)
    (folder / "overdue.nn.subject.txt").unlink()
    problems = language_problems(definition, file="prosess.toml", folder=folder)
    # participants[1] writes nn like the process: reported once, at process.language
    assert [p.field for p in problems] == ["process.language", "participants[2].language"]
    for problem in problems[:1]:
        assert "'nn' are incomplete" in problem.message
        assert problem.message.endswith("missing in email_templates/: overdue.nn.subject.txt")


# --- validate and load ----------------------------------------------------------------------


def test_validate_and_load_refuse_a_language_without_templates(
    cli: Run, tmp_path: Path, engine: Engine
) -> None:
    bad = write(tmp_path, seed_with({"nord-jaeren-sekretariat": "se"}, "en"))
    for command in ("validate", "load"):
        output = failed(
            cli(command, str(bad), *(("--at", "2020-03-30T08:00") if command == "load" else ()))
        )
        assert f"{bad}: process.language: there are no e-mail templates in language 'en'" in (
            output
        )
        assert (
            f"{bad}: participants[3].language: there are no e-mail templates in language 'se'"
            in (output)
        )
        assert "2 problem(s)" in output
    with Session(engine) as session:
        assert session.exec(select(Process)).all() == []  # load wrote nothing

    good = write(tmp_path, seed_with(dict.fromkeys(NN_PARTICIPANTS, "nn"), "nn"), "nn.toml")
    assert "valid." in ok(cli("validate", str(good)))
    assert "created" in ok(cli("load", str(good), "--at", "2020-03-30T08:00"))


def test_validate_names_the_missing_file_of_an_incomplete_language(
    cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "templates"
    shutil.copytree(TEMPLATES, folder)
    (folder / "_treatment_answer.nn.html").unlink()
    monkeypatch.setattr(languages, "TEMPLATES", folder)
    path = write(tmp_path, seed_with({"tromso-styringsgruppe": "nn"}))
    output = failed(cli("validate", str(path)))
    assert (
        f"{path}: participants[17].language: the e-mail templates in language 'nn' are "
        "incomplete (complete: nb); missing in email_templates/: _treatment_answer.nn.html"
    ) in " ".join(output.split())


# --- each participant in their own language, through the engine -----------------------------


def _html_lang(raw: bytes) -> str:
    message = email.message_from_bytes(raw, policy=default)
    html = message.get_body(("html",))
    assert html is not None
    found = re.search(r'<html lang="([a-z]{2})">', str(html.get_content()))
    assert found is not None
    return found.group(1)


@pytest.mark.single_pass  # the texts, the same on every backend (the round runs on both elsewhere)
def test_the_whole_round_writes_to_each_participant_in_their_language(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's round with five participants in nynorsk: every message to them is nynorsk,
    every message to the others bokmål (the engine picks `<kind>.<participant.language>.*`)."""
    seed = write(tmp_path, seed_with(dict.fromkeys(NN_PARTICIPANTS, "nn")))
    monkeypatch.setattr(demo, "SEED", seed)
    demo.run(engine, CaptureTransport(tmp_path / "mail"))

    with Session(engine) as session:
        rows = session.exec(select(OutboxMessage)).all()
    kinds: dict[str, set[str]] = {"nb": set(), "nn": set()}
    for row in rows:
        if row.status == MessageStatus.COMBINED:
            continue  # an invitation carried by another step's: its bytes are the carrier's
        language = "nn" if row.participant_key in NN_PARTICIPANTS else "nb"
        assert _html_lang(row.raw) == language, (row.kind, row.participant_key)
        message = email.message_from_bytes(row.raw, policy=default)
        text = message.get_body(("plain",))
        assert text is not None
        body = str(text.get_content())
        if language == "nn":
            assert "Med helsing" in body and "Med hilsen" not in body
            assert "Påminnelse" not in row.subject
            # The process file's texts too (titles, intro, themes, agenda): no bokmål
            # "innspill" outside addresses and file names.
            words = re.sub(
                r"\S+@\S+|\S+\.(docx|html|md|ics|pdf|odt)\b", "", f"{row.subject}\n{body}"
            )
            assert "innspill" not in words.lower(), (row.kind, row.participant_key)
        else:
            assert "Med hilsen" in body and "Med helsing" not in body
        kinds[language].add(row.kind)
    # The round sends every kind but the cancellation (its meeting is not cancelled). Only
    # the drafters get the compilation and only Grenland an extended deadline: both nynorsk here.
    expected = set(MESSAGE_KINDS) - {"meeting_cancel"}
    assert kinds["nn"] == expected
    assert kinds["nb"] == expected - {"compilation", "deadline_changed"}


# --- the answer form ------------------------------------------------------------------------


def test_the_form_has_texts_for_every_complete_language() -> None:
    assert set(TEXTS) == set(complete_languages())
    for language, words in TEXTS.items():
        assert set(words) == set(TEXTS["nb"]), language
        assert all(value.strip() for value in words.values()), language
    # The form speaks to a body, as the letters do.
    for value in TEXTS["nb"].values():
        assert not re.search(r"\b(du|Du|deg|ditt|din)\b", value), value
        assert "steget" not in value


OPEN = at_oslo(2020, 4, 20, 10)


@pytest.fixture(scope="module")
def nn_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    tmp = tmp_path_factory.mktemp("nn-form")
    url, drop = new_database(TEST_DATABASE, tmp)
    engine = make_engine(url)
    load_seed(engine, write(tmp, seed_with(dict.fromkeys(NN_PARTICIPANTS, "nn"))))
    engine.dispose()
    settings = Settings(data_dir=tmp / "data", database_url=url, _env_file=None)  # type: ignore[call-arg]
    application = create_app(settings)
    application.dependency_overrides[get_now] = lambda: OPEN
    yield application
    drop()


def _form_token(app: FastAPI, participant: str) -> str:
    with session_scope(app.state.engine) as session:
        return issue(
            session,
            get_definition(session, SEED_ID),
            step_id="innspill-retningslinjer",
            participant_id=participant,
            purpose=TokenPurpose.FORM,
            secret=app.state.settings.resolved_secret_key(),
            now=at_oslo(2020, 3, 30, 9),
        )


def test_the_answer_form_is_in_the_participants_language(nn_app: FastAPI) -> None:
    with TestClient(nn_app) as client:
        nn = get(client, _form_token(nn_app, "trondheim-sekretariat"))
        nb = get(client, _form_token(nn_app, "oslo-akershus-sekretariat"))
        assert (nn.lang, nb.lang) == ("nn", "nb")
        assert nn.buttons == ["Send innspel"] and nb.buttons == ["Send innspill"]
        assert "Ikkje sendt enno" in nn.text and "Ikke sendt ennå" in nb.text
        # The deadline, 1 June 2020, was Whit Monday: it runs to Tuesday, "tysdag" in nynorsk.
        assert "til og med tysdag 2. juni 2020" in nn.text
        assert "til og med tirsdag 2. juni 2020" in nb.text
        assert (
            "Fristen var sett til 1. juni 2020, men det er andre pinsedag, og då blir fristen "
            "forlengd til neste arbeidsdag."
        ) in nn.text
        assert "Innspel per tema" in nn.text

        token = _form_token(nn_app, "trondheim-sekretariat")
        empty = post(client, token, {"rolle": "  "})
        assert empty.status_code == 400
        assert "Skriv innspelet i minst eitt av felta." in FormPage(empty.text).text
        saved = post(client, token, {"rolle": "Eit innspel frå Trondheim."})
        assert saved.status_code == 303
        page = get(client, token, "?lagret=1")
        assert page.statuses == ["Innspelet er motteke. De får ei kvittering på e-post."]
        assert page.buttons == ["Lagre endringane"]


def test_refusals_are_in_the_participants_language(nn_app: FastAPI) -> None:
    with TestClient(nn_app) as client:
        token = _form_token(nn_app, "kristiansand-sekretariat")
        stale = post(client, token, csrf_token="feil")
        assert stale.status_code == 403
        assert FormPage(stale.text).h1 == "Skjemaet hadde gått ut"
        # An unknown link cannot tell whose it is: bokmål.
        unknown = get(client, "a" * 32, status=404)
        assert unknown.h1 == "Lenken er ugyldig" and unknown.lang == "nb"


def test_a_participant_without_a_language_gets_the_process_language() -> None:
    text = seed_with({"bergen-sekretariat": "nb"}, process_language="nn")
    definition = parse_definition(text, file="nn-round.toml")
    languages_by_id = {p.id: p.language for p in definition.participants}
    assert languages_by_id.pop("bergen-sekretariat") == "nb"
    assert set(languages_by_id.values()) == {"nn"}
    # stored as JSON and read back, the resolved language stays
    again = type(definition).model_validate_json(definition.model_dump_json())
    assert again.participant("bergen-sekretariat").language == "nb"
    assert again.participant("oslo-akershus-sekretariat").language == "nn"
