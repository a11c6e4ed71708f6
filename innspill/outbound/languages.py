"""Which languages have a complete set of e-mail templates, and which a process file lacks."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from jinja2 import TemplateSyntaxError, meta

from innspill.errors import DefinitionError, Problem
from innspill.outbound.templates import TEMPLATES, environment
from innspill.planning.actions import ActionKind
from innspill.process.definition import ProcessDefinition
from innspill.process.text_checks import missing_translations, untranslated_tables

#: Every kind that sends a message needs these three parts in each language.
PARTS = ("subject.txt", "txt", "html")
#: The kinds that send a message: all but `compile`, which only makes a document.
MESSAGE_KINDS = tuple(kind.value for kind in ActionKind if kind != ActionKind.COMPILE)
_NAME = re.compile(r"^(?P<kind>[a-z_]+)\.(?P<language>[a-z]{2})\.(?P<part>subject\.txt|txt|html)$")


#: Parts rendered from code rather than from a kind's template: the calendar entry's text.
CODE_PARTS = ("_calendar.{language}.txt",)


def kind_templates(language: str) -> list[str]:
    """The files every message kind needs in one language: subject, text and HTML part, and
    the parts the code renders itself."""
    kinds = [f"{kind}.{language}.{part}" for kind in MESSAGE_KINDS for part in PARTS]
    return kinds + [part.format(language=language) for part in CODE_PARTS]


def _references(folder: Path, name: str) -> Iterator[str]:
    """The templates one template extends, includes or imports (names written as literals)."""
    path = folder / name
    stat = path.stat()
    yield from _parsed_references(str(path), stat.st_mtime_ns, stat.st_size)


# Parsing every template took 0.15 s per check (each /load, each validate); a file is parsed
# again only when it changed.
@lru_cache(maxsize=2048)
def _parsed_references(path: str, _mtime_ns: int, _size: int) -> tuple[str, ...]:
    source = Path(path).read_text(encoding="utf-8")
    try:
        found = meta.find_referenced_templates(environment().parse(source))
    except TemplateSyntaxError:
        return ()  # the file is there; rendering it reports the syntax error with its line
    return tuple(ref for ref in found if ref is not None)


def missing_templates(language: str, folder: Path = TEMPLATES) -> list[str]:
    """The template files `language` lacks: kind files, and the layouts and parts they use."""
    missing: list[str] = []
    seen: set[str] = set()
    pending = kind_templates(language)
    while pending:
        name = pending.pop(0)
        if name in seen:
            continue
        seen.add(name)
        if not (folder / name).is_file():
            missing.append(name)
            continue
        pending.extend(_references(folder, name))
    return missing


def complete_languages(folder: Path = TEMPLATES) -> list[str]:
    """The languages with every template a message needs, sorted."""
    found = {m["language"] for p in folder.iterdir() if (m := _NAME.match(p.name))}
    return sorted(language for language in found if not missing_templates(language, folder))


def language_problems(
    definition: ProcessDefinition, *, file: str, folder: Path = TEMPLATES
) -> list[Problem]:
    """One problem for each field naming a language whose template set is not complete."""
    # A participant without a language of its own has the process's: that field is reported once.
    fields = [("process.language", definition.process.language)] + [
        (f"participants[{index}].language", p.language)
        for index, p in enumerate(definition.participants)
        if p.language != definition.process.language
    ]
    complete = complete_languages(folder)
    problems = []
    cache: dict[str, list[str]] = {}
    for field, language in fields:
        missing = cache.setdefault(language, missing_templates(language, folder))
        if not missing:
            continue
        have = ", ".join(complete) or "none"
        if len(missing) >= len(kind_templates(language)):
            message = (
                f"there are no e-mail templates in language '{language}' (complete: {have}); "
                f"add {language} files for every kind in email_templates/ (copy the nb files "
                "and translate them), or choose a complete language"
            )
        else:
            message = (
                f"the e-mail templates in language '{language}' are incomplete (complete: "
                f"{have}); missing in email_templates/: {', '.join(missing)}"
            )
        problems.append(Problem(file, field, message))
    return problems


def check_languages(definition: ProcessDefinition, *, file: str) -> None:
    """Raise DefinitionError if the file names a language that cannot be rendered in full:
    templates missing, or texts from the file not given in a participant's language."""
    problems = language_problems(definition, file=file, folder=TEMPLATES)
    complete = complete_languages(TEMPLATES)
    if definition.process.language in complete:  # else that is the problem to fix first
        problems += untranslated_tables(definition, file)
    problems += missing_translations(definition, file, languages=complete)
    if problems:
        raise DefinitionError(problems)
