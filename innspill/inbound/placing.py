"""Which request step a mailed answer is for, when its sender is asked in several.

An invitation in several parts (steps opening the same day, innspill.planning.combine) carries
one reply address for all of them: a reply to it says which part it answers by a line `Del 2`
(`Del 2: ...`, `# Del 2`), a line with the part's title, or the theme headings of that part
alone. A reply that names no part, or several, is held for a person. Any other reply carries
the token of one step; it is that step's answer unless it names only other steps, when it is
held too: never filed under the wrong step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from innspill.inbound.text import strip_courtesies
from innspill.planning.due import first_working_day
from innspill.process.definition import ProcessDefinition, RequestStep
from innspill.process.texts import variants

#: A line that names a part by its number: `Del 2`, `Del 2:`, `# Del 2 – Innspill til ...`.
_PART = re.compile(r"^\s*(?:#+\s*)?del\s+(\d{1,2})\s*(?:$|[:.)–—-].*$)", re.IGNORECASE)
#: What may stand around a title or heading on its line: `# `, `2. `, a colon at the end.
_HEADING = re.compile(r"^\s*(?:#+\s*|\d+[.)]\s*)?(.+?)\s*:?\s*$")


@dataclass(frozen=True)
class Placed:
    """Where an answer goes: a step, or None (held, with the reason), and its text without
    the lines that only said which part it answers."""

    step_id: str | None
    text: str
    reason: str = ""


def parts_of(definition: ProcessDefinition, step_id: str, participant_id: str) -> list[str]:
    """The request steps asked of the participant that open on the same working day as
    `step_id`, in the order of the file: the parts of one invitation, numbered from 1."""
    step = definition.step(step_id)
    if not isinstance(step, RequestStep):
        return [step_id]
    day = first_working_day(step.opens)
    return [
        s.id
        for s in definition.steps
        if isinstance(s, RequestStep)
        and first_working_day(s.opens) == day
        and participant_id in {p.id for p in definition.audience(s.id)}
    ]


def _titled(line: str, titles: dict[str, str]) -> str | None:
    match = _HEADING.match(line)
    return titles.get(match[1].casefold()) if match else None


def _named(definition: ProcessDefinition, parts: list[str], text: str) -> tuple[list[str], str]:
    """The parts the text names, in order, and the text without the lines naming a part."""
    steps = [definition.step(p) for p in parts]
    titles = {t.casefold(): s.id for s in steps for t in variants(s.title)}
    # A theme tells the part only when no other part asks it.
    owners: dict[str, set[str]] = {}
    for s in steps:
        assert isinstance(s, RequestStep)
        for theme in definition.themes_of(s):
            owners.setdefault(theme.id, set()).add(s.id)
    headings = {
        title.casefold(): next(iter(owners[t.id]))
        for t in definition.themes
        if len(owners.get(t.id, ())) == 1
        for title in variants(t.title)
    }
    named: dict[str, None] = {}
    kept: list[str] = []
    lines = text.splitlines()
    for line in lines:
        number = _PART.match(line)
        if number and 1 <= int(number[1]) <= len(parts) and len(line) <= 200:
            named[parts[int(number[1]) - 1]] = None
            continue
        title = _titled(line, titles)
        if title is not None:
            named[title] = None
            continue
        theme_of = _titled(line, headings)
        if theme_of is not None:
            named[theme_of] = None
        kept.append(line)
    rest = "\n".join(kept)
    # "Del 2" first, then "Hei, her er innspillet vårt.": the greeting is the text's first
    # line only now, so it is taken off now.
    return [p for p in parts if p in named], strip_courtesies(rest) if kept != lines else rest


def _label(definition: ProcessDefinition, parts: list[str], step_id: str) -> str:
    return f"part {parts.index(step_id) + 1}, «{definition.step(step_id).title}»"


def place(
    definition: ProcessDefinition,
    *,
    participant_id: str,
    step_id: str,
    all_parts: bool,
    text: str,
) -> Placed:
    """Where a mailed answer goes. `step_id` is the step its token is for; `all_parts`: the
    token was the reply address of an invitation in several parts (the first is `step_id`)."""
    parts = parts_of(definition, step_id, participant_id)
    if len(parts) < 2:
        return Placed(step_id, text)
    named, rest = _named(definition, parts, text)
    if all_parts:
        if len(named) == 1:
            return Placed(named[0], rest)
        if not named:
            return Placed(
                None,
                text,
                f"a reply to the invitation in {len(parts)} parts that does not say which part "
                "it answers (no line «Del 1», «Del 2» ..., no title or theme heading of one "
                "part): assign it to the part it answers",
            )
        return Placed(
            None,
            text,
            "answers "
            + " and ".join(_label(definition, parts, p) for p in named)
            + " in one reply: assign it to one part, or ask for one reply per part",
        )
    if set(named) <= {step_id}:
        return Placed(step_id, rest)
    others = [p for p in named if p != step_id]
    return Placed(
        None,
        text,
        f"sent about {_label(definition, parts, step_id)}, but it names "
        + " and ".join(_label(definition, parts, p) for p in others)
        + " (a «Del» line, a title or theme headings): assign it to the part it answers",
    )


def without_part_lines(
    definition: ProcessDefinition, *, participant_id: str, step_id: str, text: str
) -> str:
    """The text of a reply assigned by hand to a step, without the lines that only said which
    part it answers (`Del 2`, a part's title)."""
    parts = parts_of(definition, step_id, participant_id)
    return _named(definition, parts, text)[1] if len(parts) > 1 else text
