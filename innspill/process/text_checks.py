"""Checks of the texts per language: every table gives the process's language, and every text
a participant reads is given in the participant's language."""

from __future__ import annotations

from collections.abc import Container, Iterator
from typing import TYPE_CHECKING

from innspill.errors import Problem
from innspill.process.texts import Text, has_language, walk_texts

if TYPE_CHECKING:
    from innspill.process.schema import Participant, ProcessDefinition


def _all_texts(definition: ProcessDefinition) -> list[tuple[str, Text]]:
    found: list[tuple[str, Text]] = []

    def visit(path: str, text: str) -> None:
        if isinstance(text, Text):
            found.append((path, text))

    walk_texts(definition, "", visit, skip=("participants",))
    return found


def untranslated_tables(definition: ProcessDefinition, file: str) -> list[Problem]:
    """A table without the process's language: the dashboard, the log and every reader
    without a text of their own read the process's language."""
    language = definition.process.language
    return [
        Problem(
            file,
            path,
            f"no {language} text: a table must also give the text in the process's language "
            f'({language}), e.g. {{ {language} = "...", '
            f'{next(iter(text.texts))} = "..." }}',
        )
        for path, text in _all_texts(definition)
        if text.texts and language not in text.texts
    ]


def audiences(definition: ProcessDefinition) -> dict[str, set[str]]:
    """The participant ids each step addresses."""
    return {s.id: {p.id for p in definition.audience(s.id)} for s in definition.steps}


def read_by(
    definition: ProcessDefinition,
    participant: Participant,
    addressed: dict[str, set[str]] | None = None,
) -> Iterator[tuple[str, Text]]:
    """The texts a participant reads, with their field paths: the case, the signature, and
    the steps addressed to them (a compilation's drafters read its source step and themes).
    `addressed` is audiences(definition), when the caller has it."""
    from innspill.process.schema import CompilationStep, RequestStep

    addressed = addressed if addressed is not None else audiences(definition)

    found: list[tuple[str, Text]] = []

    def visit(path: str, text: str) -> None:
        if isinstance(text, Text):
            found.append((path, text))

    walk_texts(definition.process, "process", visit)
    walk_texts(definition.sender, "sender", visit)
    position = {step.id: index for index, step in enumerate(definition.steps)}
    theme_index = {theme.id: index for index, theme in enumerate(definition.themes)}
    asked: set[int] = set()
    for index, step in enumerate(definition.steps):
        if participant.id not in addressed[step.id]:
            continue
        source = step
        if isinstance(step, CompilationStep):
            # Its own title is the case officer's; the document and its mail show the source's.
            source = definition.step(step.source)
            walk_texts(source.title, f"steps[{position[source.id]}].title", visit)
        else:
            walk_texts(step, f"steps[{index}]", visit)
        if isinstance(source, RequestStep):
            asked |= {theme_index[t.id] for t in definition.themes_of(source)}
    for index in sorted(asked):
        walk_texts(definition.themes[index], f"themes[{index}]", visit)
    yield from dict.fromkeys(found)  # a compilation's source may also be the reader's step


def missing_translations(
    definition: ProcessDefinition, file: str, *, languages: Container[str] | None = None
) -> list[Problem]:
    """One problem per text that participants read but that is not given in their language,
    naming them (`steps[1].intro[0]: no nn text for participants[3] (bergen-sekretariat)`).
    `languages` limits the check to those languages (others are reported elsewhere)."""
    default = definition.process.language
    lacking: dict[tuple[str, str], list[str]] = {}
    addressed = audiences(definition)
    for index, person in enumerate(definition.participants):
        language = person.language
        if language == default or (languages is not None and language not in languages):
            continue
        for path, text in read_by(definition, person, addressed):
            if not has_language(text, language, default=default):
                who = f"participants[{index}] ({person.id})"
                lacking.setdefault((path, language), []).append(who)
    order = {path: n for n, (path, _) in enumerate(_all_texts(definition))}
    return [
        Problem(
            file,
            path,
            f"no {language} text for {', '.join(who)}, who read {language}; give the text "
            f'as a table: {{ {default} = "...", {language} = "..." }}',
        )
        for (path, language), who in sorted(lacking.items(), key=lambda i: order.get(i[0][0], 0))
    ]


def readers_language(definition: ProcessDefinition, step_id: str) -> str:
    """The language of a document for a step's whole audience (a compilation for its
    drafters): theirs when they share one, else the process's."""
    languages = {p.language for p in definition.audience(step_id)}
    return languages.pop() if len(languages) == 1 else definition.process.language
