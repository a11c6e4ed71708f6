"""Process definitions: reading and validating a process file, and the warnings about odd dates.

The models themselves are in `innspill.process.schema`; they are re-exported here, where the
rest of the code has always found them.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from datetime import date
from pathlib import Path

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from innspill.errors import DefinitionError, Problem
from innspill.process.attachments import NOT_BARE, read_step_files
from innspill.process.deadline_rule import in_effect
from innspill.process.schema import (
    AttachmentRef,
    CirculationStep,
    CompilationStep,
    Language,
    MeetingStep,
    OneLine,
    Participant,
    ProcessDefinition,
    ProcessInfo,
    ReminderPolicy,
    RequestStep,
    Sender,
    Slug,
    Step,
    Theme,
    TreatmentReminders,
)
from innspill.process.texts import SHAPE_TAGS, Text
from innspill.process.workdays import why_not_working_day

__all__ = [
    "AttachmentRef",
    "CirculationStep",
    "CompilationStep",
    "Language",
    "MeetingStep",
    "OneLine",
    "Participant",
    "ProcessDefinition",
    "ProcessInfo",
    "ReminderPolicy",
    "RequestStep",
    "Sender",
    "Slug",
    "Step",
    "Text",
    "Theme",
    "TreatmentReminders",
    "date_warnings",
    "definition_hash",
    "load_definition",
    "parse_definition",
]


def _cross_check(definition: ProcessDefinition, file: str) -> list[Problem]:
    """Problems that span several parts of the file (ids, references between parts)."""
    problems = [
        *_duplicates(file, "participants", ids=[p.id for p in definition.participants]),
        *_duplicates(file, "themes", ids=[t.id for t in definition.themes]),
        *_duplicates(file, "steps", ids=[s.id for s in definition.steps]),
        *_shared_addresses(definition, file),
    ]
    kinds = {s.id: s.kind for s in definition.steps}
    for index, step in enumerate(definition.steps):
        where = f"steps[{index}]"
        problems += _unknown_audience(definition, step.audience, file=file, where=where)
        if isinstance(step, RequestStep):
            problems += _request_problems(definition, step, file=file, where=where)
        elif isinstance(step, CompilationStep) and kinds.get(step.source) != "request":
            problems.append(
                Problem(
                    file,
                    f"{where}.source",
                    f"no request step has the id '{step.source}' (a compilation compiles the "
                    "answers of a request step)",
                )
            )
        elif isinstance(step, MeetingStep):
            problems += _meeting_problems(step, kinds, file=file, where=where)
    return problems


def _duplicates(file: str, kind: str, *, ids: list[str]) -> list[Problem]:
    problems = []
    seen: set[str] = set()
    for index, ident in enumerate(ids):
        if ident in seen:
            problems.append(Problem(file, f"{kind}[{index}].id", f"duplicate id '{ident}'"))
        seen.add(ident)
    return problems


def _shared_addresses(definition: ProcessDefinition, file: str) -> list[Problem]:
    """Answers are told apart by address too: two participants may not share one."""
    problems = []
    emails: dict[str, str] = {}
    for index, p in enumerate(definition.participants):
        key = p.email.lower()
        if key in emails:
            problems.append(
                Problem(
                    file,
                    f"participants[{index}].email",
                    f"{p.email} is also the address of '{emails[key]}'; give each participant "
                    "its own address so that answers can be told apart",
                )
            )
        emails[key] = p.id
    return problems


def _unknown_audience(
    definition: ProcessDefinition, audience: list[str], *, file: str, where: str
) -> list[Problem]:
    roles = {p.role for p in definition.participants} | {p.id for p in definition.participants}
    return [
        Problem(
            file,
            f"{where}.audience[{j}]",
            f"no participant has the role or id '{who}' (roles in this file: "
            f"{', '.join(sorted({p.role for p in definition.participants}))})",
        )
        for j, who in enumerate(audience)
        if who not in roles
    ]


def _request_problems(
    definition: ProcessDefinition, step: RequestStep, *, file: str, where: str
) -> list[Problem]:
    theme_ids = {t.id for t in definition.themes}
    problems = [
        Problem(file, f"{where}.themes[{j}]", f"unknown theme '{theme}'")
        for j, theme in enumerate(step.themes or [])
        if theme not in theme_ids
    ]
    if not definition.themes_of(step):
        problems.append(Problem(file, f"{where}.themes", "a request step needs at least one theme"))
    if step.deadline > definition.process.ends:
        problems.append(
            Problem(
                file,
                f"{where}.deadline",
                f"{step.deadline} is after the process ends ({definition.process.ends})",
            )
        )
    elif (effective := in_effect(definition, step.deadline)) > definition.process.ends:
        problems.append(
            Problem(
                file,
                f"{where}.deadline",
                f"{step.deadline} is not a working day and runs to {effective}, after the "
                f"process ends ({definition.process.ends}); choose an earlier deadline or a "
                "later end",
            )
        )
    return problems


def _meeting_problems(
    step: MeetingStep, kinds: Mapping[str, str], *, file: str, where: str
) -> list[Problem]:
    problems = []
    if step.attach_compilation and kinds.get(step.attach_compilation) != "compilation":
        problems.append(
            Problem(
                file,
                f"{where}.attach_compilation",
                f"no compilation step has the id '{step.attach_compilation}'",
            )
        )
    if step.invite and step.invite >= step.date:
        problems.append(
            Problem(
                file,
                f"{where}.invite",
                f"invitations ({step.invite}) must go out before the meeting ({step.date})",
            )
        )
    return problems


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in {"request", "meeting", "compilation", "circulation"} and out.endswith("]"):
            continue  # the discriminator tag pydantic inserts; the user never wrote it
        elif part in SHAPE_TAGS:
            continue  # a text or a table of texts (innspill.process.texts): the same field
        else:
            out += f".{part}" if out else str(part)
    return out


def _problem(file: str, err: ErrorDetails) -> Problem:
    """One pydantic error in the words of the process file."""
    message = err["msg"]
    if err["type"] == "extra_forbidden":
        message = "unknown field (check the spelling; see docs/process-files.md)"
    elif err["type"] == "value_error":
        message = message.removeprefix("Value error, ")
    elif err["type"] == "string_pattern_mismatch" and "\\r\\n" in str(
        err.get("ctx", {}).get("pattern", "")
    ):
        message = (
            "must be a single line: line breaks are not allowed (they could inject e-mail headers)"
        )
    elif err["type"] == "missing":
        message = "required field is missing"
    elif err["type"] == "string_pattern_mismatch" and "attachments" in err["loc"]:
        message = NOT_BARE  # a control character or a backslash
    return Problem(file, _location(err["loc"]), message)


def parse_definition(text: str, *, file: str = "<text>") -> ProcessDefinition:
    """Parse and validate TOML text; raise DefinitionError listing every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DefinitionError([Problem(file, "", f"not valid TOML: {exc}")]) from None
    except RecursionError:  # tomllib recurses per level of arrays and tables: [[[[...]]]]
        message = "not valid TOML: arrays or tables nested too deeply (a process file needs a few)"
        raise DefinitionError([Problem(file, "", message)]) from None
    try:
        definition = ProcessDefinition.model_validate(data)
    except ValidationError as exc:
        raise DefinitionError([_problem(file, err) for err in exc.errors()]) from None
    problems = _cross_check(definition, file)
    if problems:
        raise DefinitionError(problems)
    return definition


def load_definition(path: Path) -> ProcessDefinition:
    """Read and validate a process file, and check the files its steps attach."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError([Problem(str(path), "", f"cannot read the file: {exc}")]) from None
    definition = parse_definition(text, file=str(path))
    read_step_files(definition, path)
    return definition


def definition_hash(definition: ProcessDefinition) -> str:
    """A stable fingerprint of the definition's content."""
    return hashlib.sha256(definition.model_dump_json().encode()).hexdigest()


def date_warnings(definition: ProcessDefinition) -> list[str]:
    """Deadlines and meetings that fall on a weekend or public holiday: allowed, but odd. For a
    request step's deadline, what will happen: it runs to the next working day, or is kept."""
    warnings = []
    for index, step in enumerate(definition.steps):
        for field in ("opens", "deadline", "date", "due"):
            value = getattr(step, field, None)
            if isinstance(value, date):
                reason = why_not_working_day(value)
                if reason:
                    warning = (
                        f"steps[{index}].{field} ({step.id}): {value.isoformat()} is a {reason}, "
                        "not a working day"
                    )
                    if field == "deadline" and isinstance(step, RequestStep):
                        warning += _holiday_deadline(definition, value)
                    warnings.append(warning)
    return warnings


def _holiday_deadline(definition: ProcessDefinition, day: date) -> str:
    """What happens to a request deadline on a day that is not a working day."""
    effective = in_effect(definition, day)
    if effective == day:
        return (
            '; it is kept as written ([process] holiday_deadlines = "as_written"): an answer '
            "on the next working day is late"
        )
    return (
        f"; the deadline runs to the next working day, {effective.isoformat()}, and the letters "
        f'say so (set [process] holiday_deadlines = "as_written" to keep {day.isoformat()})'
    )
