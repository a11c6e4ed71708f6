"""Process files: the seed validates; each kind of mistake is reported with file, field and cause;
a bad file loaded from the command line writes nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import Session, select
from typer.testing import CliRunner, Result

from innspill.cli import app
from innspill.config.settings import get_settings
from innspill.errors import DefinitionError, Problem
from innspill.models import DeadlineChange, Event, Participant, Process, Step
from innspill.process.definition import (
    ProcessDefinition,
    RequestStep,
    date_warnings,
    definition_hash,
    load_definition,
    parse_definition,
)
from tests.conftest import SEED, SEED_ID, copy_seed_files

SEED_TEXT = SEED.read_text(encoding="utf-8")
BERGEN_EMAIL = 'email = "sekretariat@bergen.byvekst.example"'
BERGEN_NAME = 'name = "Sekretariatet for byvekstavtalen i Bergen"'


def edited(tmp_path: Path, *replacements: tuple[str, str], name: str = "bad.toml") -> Path:
    """The seed with each `old` (which must occur exactly once) replaced, written to tmp_path."""
    text = SEED_TEXT
    for old, new in replacements:
        assert text.count(old) == 1, f"the edit is ambiguous or stale: {old!r}"
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    copy_seed_files(tmp_path)
    return path


def problems_of(path: Path) -> list[Problem]:
    """The problems load_definition reports for `path`; each must name that file."""
    with pytest.raises(DefinitionError) as info:
        load_definition(path)
    problems = info.value.problems
    assert problems, "a DefinitionError without problems"
    for problem in problems:
        assert problem.file == str(path)
        assert problem.message
        # The printed form carries file, field and message: that is what the user reads.
        assert str(problem).startswith(str(path))
        assert problem.field in str(problem)
        assert problem.message in str(problem)
    text = str(info.value)
    assert f"{len(problems)} problem(s)" in text
    for problem in problems:
        assert str(problem) in text
    return problems


def by_field(problems: list[Problem]) -> dict[str, str]:
    fields = [p.field for p in problems]
    assert len(set(fields)) == len(fields), f"one problem reported twice: {fields}"
    return {p.field: p.message for p in problems}


# --- the seed ------------------------------------------------------------------------------


def test_seed_validates_with_the_expected_content():
    definition = load_definition(SEED)
    assert definition.id == SEED_ID
    assert definition.process.reference == "20/64758"
    roles = [p.role for p in definition.participants]
    assert roles.count("secretariat") == 9
    assert roles.count("steering_group") == 9
    assert [t.id for t in definition.themes] == [
        "merknader",
        "styringsgruppe",
        "rolle",
        "kommunikasjon",
        "okonomi",
        "organisering",
    ]
    requests = [s for s in definition.steps if isinstance(s, RequestStep)]
    assert [(s.id, s.deadline) for s in requests] == [
        ("innspill-oppdrag", date(2020, 4, 27)),
        ("innspill-retningslinjer", date(2020, 6, 1)),
    ]
    assert all(s.opens == date(2020, 3, 30) for s in requests)
    for step in requests:
        audience = definition.audience(step.id)
        assert len(audience) == 9 and {p.role for p in audience} == {"secretariat"}
    # Part 1 (the cover letter) asks for comments on the proposed assignment and when the
    # steering group takes it up; part 2 (the assignment) for input under the four themes.
    assert [[t.id for t in definition.themes_of(s)] for s in requests] == [
        ["merknader", "styringsgruppe"],
        ["rolle", "kommunikasjon", "okonomi", "organisering"],
    ]
    assert definition.step("sammenstilling-oppdrag").source == "innspill-oppdrag"  # type: ignore[union-attr]
    assert definition.step("sammenstilling").source == "innspill-retningslinjer"  # type: ignore[union-attr]
    # Bergen writes nynorsk: its secretariat and its steering group.
    assert {p.id for p in definition.participants if p.language == "nn"} == {
        "bergen-sekretariat",
        "bergen-styringsgruppe",
    }


def test_seed_warns_exactly_about_whit_monday():
    warnings = date_warnings(load_definition(SEED))
    assert len(warnings) == 1, warnings
    (warning,) = warnings
    assert warning.startswith("steps[1].deadline (innspill-retningslinjer)")
    assert "2020-06-01" in warning
    assert "Andre pinsedag" in warning
    assert "not a working day" in warning


def test_parsing_is_deterministic_and_the_hash_follows_the_content():
    a = parse_definition(SEED_TEXT)
    b = parse_definition(SEED_TEXT)
    assert definition_hash(a) == definition_hash(b)
    moved = parse_definition(SEED_TEXT.replace("deadline = 2020-04-27", "deadline = 2020-05-04"))
    assert definition_hash(moved) != definition_hash(a)


# --- one mistake at a time -----------------------------------------------------------------

CASES = [
    pytest.param(
        [("deadline = 2020-04-27", "deadlin = 2020-04-27")],
        {
            "steps[0].deadlin": "unknown field",
            "steps[0].deadline": "required field is missing",
        },
        id="misspelt-step-field",
    ),
    pytest.param(
        [(BERGEN_EMAIL, BERGEN_EMAIL + '\ncolour = "blue"')],
        {"participants[1].colour": "unknown field"},
        id="unknown-participant-field",
    ),
    pytest.param(
        [(BERGEN_EMAIL, 'email = "sekretariat.bergen.byvekst.example"')],
        {"participants[1].email": "not a valid email address"},
        id="email-without-at",
    ),
    pytest.param(
        [(BERGEN_EMAIL, 'email = "sekretariat@bergen byvekst.example"')],
        {"participants[1].email": "not a valid email address"},
        id="email-with-space",
    ),
    pytest.param(
        [('email = "byvekst-innspill@vegvesen.example"', 'email = "byvekst-innspill@"')],
        {"sender.email": "not a valid email address"},
        id="bad-sender-email",
    ),
    pytest.param(
        [("deadline = 2020-04-27", "deadline = 2020-03-20")],
        {"steps[0].deadline": "deadline 2020-03-20 is not after opens 2020-03-30"},
        id="deadline-before-opens",
    ),
    pytest.param(
        [("deadline = 2020-04-27", "deadline = 2020-03-30")],
        {"steps[0].deadline": "deadline 2020-03-30 is not after opens 2020-03-30"},
        id="deadline-equals-opens",
    ),
    pytest.param(
        [("deadline = 2020-04-27", "deadline = 2020-07-01")],
        {"steps[0].deadline": "2020-07-01 is after the process ends (2020-06-30)"},
        id="deadline-after-process-ends",
    ),
    pytest.param(
        [("end = 12:30:00", "end = 08:30:00")],
        {"steps[4].end": "end 08:30:00 is not after start 09:00:00"},
        id="meeting-ends-before-it-starts",
    ),
    pytest.param(
        [('id = "bergen-sekretariat"', 'id = "oslo-akershus-sekretariat"')],
        {"participants[1].id": "duplicate id 'oslo-akershus-sekretariat'"},
        id="duplicate-participant-id",
    ),
    pytest.param(
        [('id = "okonomi"', 'id = "rolle"'), ('"okonomi", "organisering"]', '"organisering"]')],
        {"themes[4].id": "duplicate id 'rolle'"},
        id="duplicate-theme-id",
    ),
    pytest.param(
        [('audience = ["steering_group"]', 'audience = ["styringsgruppe"]')],
        {"steps[5].audience[0]": "no participant has the role or id 'styringsgruppe'"},
        id="audience-role-nobody-has",
    ),
    pytest.param(
        [('themes = ["merknader", "styringsgruppe"]', 'themes = ["merknader", "finans"]')],
        {"steps[0].themes[1]": "unknown theme 'finans'"},
        id="unknown-theme-in-step",
    ),
    pytest.param(
        [('source = "innspill-retningslinjer"', 'source = "innspill-retningslinjene"')],
        {"steps[3].source": "no request step has the id 'innspill-retningslinjene'"},
        id="compilation-source-unknown",
    ),
    pytest.param(
        [(BERGEN_NAME, BERGEN_NAME[:-1] + '\\nBcc: alle@evil.example"')],
        {"participants[1].name": "line break"},
        id="name-with-line-break",
    ),
    pytest.param(
        [(BERGEN_NAME, BERGEN_NAME[:-1] + '\\r\\nBcc: alle@evil.example"')],
        {"participants[1].name": "line break"},
        id="name-with-crlf",
    ),
    pytest.param(
        [('case_officer = "Kari Nordmann"\n', "")],
        {"sender.case_officer": "required field is missing"},
        id="missing-sender-field",
    ),
    pytest.param(
        [("opens = 2020-03-30\ndeadline = 2020-04-27", "deadline = 2020-04-27")],
        {"steps[0].opens": "required field is missing"},
        id="missing-step-opens",
    ),
    pytest.param(
        [('reference = "20/64758"\n', "")],
        {"process.reference": "required field is missing"},
        id="missing-process-reference",
    ),
]


@pytest.mark.parametrize(("edits", "expected"), CASES)
def test_each_mistake_names_file_field_and_cause(tmp_path, edits, expected):
    path = edited(tmp_path, *edits)
    got = by_field(problems_of(path))
    assert set(got) == set(expected), got
    for field, fragment in expected.items():
        assert fragment in got[field], (field, got[field])


def test_line_break_message_explains_the_risk(tmp_path):
    path = edited(tmp_path, (BERGEN_NAME, BERGEN_NAME[:-1] + '\\nBcc: alle@evil.example"'))
    (problem,) = problems_of(path)
    assert "single line" in problem.message
    assert "header" in problem.message  # says why, not just a regular expression
    assert "[^" not in problem.message


def test_malformed_toml_names_the_file_and_the_line(tmp_path):
    old = 'title = "Sammenstilling av innspill til oppdraget"'
    path = edited(tmp_path, (old, 'title = "Sammenstilling av innspill til oppdraget'))
    line = SEED_TEXT.splitlines().index(old) + 1
    (problem,) = problems_of(path)
    assert problem.field == ""  # no field can be named before the file parses
    assert "not valid TOML" in problem.message
    assert f"line {line}" in problem.message


def test_unreadable_file_is_a_definition_error(tmp_path):
    missing = tmp_path / "nope.toml"
    (problem,) = problems_of(missing)
    assert "cannot read the file" in problem.message
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(
        SEED_TEXT.encode("utf-8").replace("Tromsø".encode(), "Tromsø".encode("latin-1"))
    )
    (problem,) = problems_of(latin1)
    assert "cannot read the file" in problem.message


# --- several mistakes at once ----------------------------------------------------------------


def test_several_field_mistakes_are_all_reported(tmp_path):
    path = edited(
        tmp_path,
        (BERGEN_EMAIL, 'email = "bergen"\ncolour = "blue"'),
        (
            'name = "Sekretariatet for byvekstavtalen i Trondheim"',
            'name = "Sekretariatet\\nfor byvekstavtalen i Trondheim"',
        ),
        ("deadline = 2020-04-27", "deadline = 2020-03-01"),
        ('case_officer = "Kari Nordmann"\n', ""),
        ("end = 12:30:00", "end = 09:00:00"),
    )
    got = by_field(problems_of(path))
    assert set(got) == {
        "participants[1].email",
        "participants[1].colour",
        "participants[2].name",
        "steps[0].deadline",
        "sender.case_officer",
        "steps[4].end",
    }
    assert "not a valid email address" in got["participants[1].email"]
    assert "unknown field" in got["participants[1].colour"]
    assert "line break" in got["participants[2].name"]
    assert "not after opens" in got["steps[0].deadline"]
    assert "missing" in got["sender.case_officer"]
    assert "not after start" in got["steps[4].end"]


def test_several_reference_mistakes_are_all_reported(tmp_path):
    path = edited(
        tmp_path,
        ('id = "bergen-sekretariat"', 'id = "oslo-akershus-sekretariat"'),
        ('audience = ["steering_group"]', 'audience = ["styringsgruppe"]'),
        ('themes = ["merknader", "styringsgruppe"]', 'themes = ["finans"]'),
        ('source = "innspill-retningslinjer"', 'source = "ukjent"'),
        (BERGEN_EMAIL, 'email = "sekretariat@oslo-akershus.byvekst.example"'),
    )
    got = by_field(problems_of(path))
    assert set(got) == {
        "participants[1].id",
        "participants[1].email",
        "steps[5].audience[0]",
        "steps[0].themes[0]",
        "steps[0].themes",
        "steps[3].source",
    }
    assert "duplicate id" in got["participants[1].id"]
    assert "also the address of 'oslo-akershus-sekretariat'" in got["participants[1].email"]
    assert "'styringsgruppe'" in got["steps[5].audience[0]"]
    assert "unknown theme 'finans'" in got["steps[0].themes[0]"]
    assert "at least one theme" in got["steps[0].themes"]
    assert "'ukjent'" in got["steps[3].source"]


# --- nothing is written on a bad load ----------------------------------------------------


def invoke(args: list[str], env: dict[str, str | None]) -> Result:
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, args, env=env)
    finally:
        get_settings.cache_clear()


def counts(engine) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        return {
            table.__name__: session.exec(select(func.count()).select_from(table)).one()
            for table in (Process, Participant, Step, Event, DeadlineChange)
        }


BAD_LOADS = [
    pytest.param([(BERGEN_EMAIL, 'email = "bergen"')], "participants[1].email", id="bad-email"),
    pytest.param(
        [('id = "bergen-sekretariat"', 'id = "oslo-akershus-sekretariat"')],
        "participants[1].id",
        id="duplicate-id",
    ),
    pytest.param(
        [("deadline = 2020-04-27", "deadlin = 2020-04-27")], "steps[0].deadlin", id="unknown-field"
    ),
    pytest.param([("ends = 2020-06-30", "ends = 2020-06-30 x")], "not valid TOML", id="bad-toml"),
]


@pytest.mark.parametrize(("edits", "expected"), BAD_LOADS)
def test_cli_load_of_a_bad_file_writes_nothing(
    tmp_path, monkeypatch, database_url, engine, edits, expected
):
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    path = edited(tmp_path, *edits)
    env = {
        "INNSPILL_DATABASE_URL": database_url,
        "INNSPILL_DATA_DIR": str(tmp_path / "data"),
        "INNSPILL_SMTP_HOST": None,
    }
    before = counts(engine)
    result = invoke(["load", str(path), "--at", "2020-03-30T08:00"], env)
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit)  # a message, not a traceback
    assert str(path) in result.output
    assert expected in result.output
    assert "problem(s) in the process file" in result.output
    assert counts(engine) == before
    assert before["Process"] == 0
    with Session(engine) as session:
        assert session.get(Process, SEED_ID) is None


def test_cli_validate_lists_every_problem_and_writes_nothing(
    tmp_path, monkeypatch, database_url, engine
):
    monkeypatch.chdir(tmp_path)
    path = edited(
        tmp_path,
        (BERGEN_EMAIL, 'email = "bergen"'),
        ("deadline = 2020-04-27", "deadline = 2020-03-01"),
    )
    env = {"INNSPILL_DATABASE_URL": database_url, "INNSPILL_DATA_DIR": str(tmp_path / "data")}
    result = invoke(["validate", str(path)], env)
    assert result.exit_code == 1
    assert "2 problem(s)" in result.output
    assert f"{path}: participants[1].email: " in result.output
    assert f"{path}: steps[0].deadline: " in result.output
    assert counts(engine)["Process"] == 0


# --- poison for mail headers -------------------------------------------------------------------
# Found on a loaded process: an encoded line break in a name passed validate and load, and the
# tick then died on every invitation; raw control characters went into To: as they were.

ENCODED_CRLF = "=?UTF-8?Q?Bergen=0D=0ABcc:_alle@evil.example?="
POISONS = [
    pytest.param(ENCODED_CRLF, "hides a line break in an encoded word", id="encoded-crlf-q"),
    pytest.param(
        "=?utf-8?b?QmVyZ2VuDQpCY2M6IGFsbGVAZXZpbC5leGFtcGxl?=",
        "hides a line break in an encoded word",
        id="encoded-crlf-b",
    ),
    pytest.param("=?UTF-8?Q?Bergen=0BX?=", "U+000B in an encoded word", id="encoded-vt"),
    pytest.param("=?UTF-8?Q?Bergen=00?=", "U+0000 in an encoded word", id="encoded-nul"),
    pytest.param("Bergen\\u000bBcc", "control character U+000B", id="raw-vt"),
    pytest.param("Bergen\\u000cBcc", "control character U+000C", id="raw-ff"),
    pytest.param("Bergen\\u001cBcc", "control character U+001C", id="raw-fs"),
    pytest.param("Bergen\\u0085Bcc", "control character U+0085", id="raw-nel"),
    pytest.param("Bergen\\u2028Bcc", "control character U+2028", id="raw-line-separator"),
    pytest.param("Bergen\\tBcc", "control character U+0009", id="raw-tab"),
    pytest.param("Bergen\\rBcc", "single line", id="raw-cr"),
    pytest.param("=?no-such-charset?Q?Bergen=0D=0A?=", "line break", id="unknown-charset"),
]

# (the line in the seed, the field it becomes): every kind of value that reaches a header.
HEADER_FIELDS = [
    pytest.param(BERGEN_NAME, "participants[1].name", id="participant-name"),
    pytest.param('organisation = "Statens vegvesen"', "sender.organisation", id="organisation"),
    pytest.param('unit = "Vegdirektoratet"', "sender.unit", id="unit"),
    pytest.param('case_officer = "Kari Nordmann"', "sender.case_officer", id="case-officer"),
    pytest.param(
        'title = { nb = "Innspill til retningslinjer for sekretariatene for byvekstavtalene", '
        'nn = "Innspel til retningslinjer for sekretariata for byvekstavtalane" }',
        "process.title",
        id="process-title",
    ),
    pytest.param(
        'title = { nb = "Innspill til oppdraget", nn = "Innspel til oppdraget" }',
        "steps[0].title",
        id="step-title",
    ),
    # A text per language: each language's text is checked, and named (`.nn`).
    pytest.param('nn = "Innspel til oppdraget" }', "steps[0].title.nn", id="step-title-nynorsk"),
    pytest.param(
        '{ file = "oppdrag.md", title = { nb = "Forslag til oppdrag", '
        'nn = "Forslag til oppdrag" } }',
        "steps[0].attachments[0].title",
        id="attachment-title",
    ),
    pytest.param('place = "Videomøte"', "steps[4].place", id="meeting-place"),
]


def _poisoned(line: str, poison: str) -> str:
    if line.startswith("{ file"):  # an attachment with its title: poison the title
        return f'{{ file = "oppdrag.md", title = "{poison}" }}'
    key, _, value = line.partition(" = ")
    return f'{key} = "{poison}"' + (" }" if value.endswith(" }") and key.startswith("nn") else "")


@pytest.mark.parametrize(("poison", "fragment"), POISONS)
def test_every_kind_of_header_poison_in_a_name_is_refused(tmp_path, poison, fragment):
    path = edited(tmp_path, (BERGEN_NAME, _poisoned(BERGEN_NAME, poison)), name="prosess.toml")
    (problem,) = problems_of(path)
    assert problem.field == "participants[1].name"
    assert fragment in problem.message, problem.message
    assert str(problem).startswith(f"{path}: participants[1].name: ")


@pytest.mark.parametrize(("line", "field"), HEADER_FIELDS)
def test_every_field_that_reaches_a_header_refuses_poison(tmp_path, line, field):
    path = edited(tmp_path, (line, _poisoned(line, ENCODED_CRLF)))
    (problem,) = problems_of(path)
    assert problem.field == field
    assert "line break" in problem.message
    raw = edited(tmp_path, (line, _poisoned(line, "Vegvesen\\u000cBcc")), name="raw.toml")
    (problem,) = problems_of(raw)
    assert (problem.field, "U+000C" in problem.message) == (field, True)


def test_an_address_with_an_encoded_line_break_is_refused(tmp_path):
    path = edited(tmp_path, (BERGEN_EMAIL, 'email = "=?utf-8?q?a=0d=0abcc:?=@bergen.example"'))
    got = by_field(problems_of(path))
    assert list(got) == ["participants[1].email"]


def test_harmless_encoded_words_and_non_ascii_names_pass(tmp_path):
    path = edited(
        tmp_path,
        (BERGEN_NAME, 'name = "=?UTF-8?Q?Sekretariatet_i_Bergen?= og Tromsø – «byvekst»"'),
    )
    definition = load_definition(path)
    assert definition.participants[1].name.startswith("=?UTF-8?Q?Sekretariatet")


def test_cli_load_and_validate_refuse_an_encoded_line_break(
    tmp_path, monkeypatch, database_url, engine
):
    monkeypatch.chdir(tmp_path)
    path = edited(
        tmp_path, (BERGEN_NAME, _poisoned(BERGEN_NAME, ENCODED_CRLF)), name="prosess.toml"
    )
    env = {
        "INNSPILL_DATABASE_URL": database_url,
        "INNSPILL_DATA_DIR": str(tmp_path / "data"),
        "INNSPILL_SMTP_HOST": None,
    }
    for args in (["validate", str(path)], ["load", str(path), "--at", "2020-03-30T08:00"]):
        result = invoke(args, env)
        assert result.exit_code == 1, result.output
        assert f"{path}: participants[1].name: " in result.output
        assert "encoded word" in result.output
    assert counts(engine)["Process"] == 0


def test_a_poisoned_definition_stored_by_an_older_innspill_can_be_read_and_replaced(engine):
    """Loaded before these checks: still readable (so that nothing else stops), and loading the
    corrected file replaces it; a fresh validation (what `innspill doctor` does) refuses it."""
    from innspill.models.db import session_scope
    from innspill.process.loading import get_definition, load_file
    from tests.conftest import load_seed, oslo

    load_seed(engine)
    with session_scope(engine) as session:
        row = session.get(Process, SEED_ID)
        assert row is not None
        clean = "Sekretariatet for byvekstavtalen i Bergen"
        assert row.definition_json.count(clean) == 1
        row.definition_json = row.definition_json.replace(clean, ENCODED_CRLF)
        row.definition_hash = "stored-by-an-older-innspill"
    with Session(engine) as session:
        stored = get_definition(session, SEED_ID)
        assert stored.participant("bergen-sekretariat").name == ENCODED_CRLF
        with pytest.raises(ValueError, match="encoded word"):
            ProcessDefinition.model_validate_json(
                session.get(Process, SEED_ID).definition_json  # type: ignore[union-attr]
            )
    with session_scope(engine) as session:
        report = load_file(session, SEED, now=oslo(2020, 3, 30, 8, 30))
    assert report.outcome == "updated"
    with Session(engine) as session:
        assert get_definition(session, SEED_ID).participant("bergen-sekretariat").name == clean
