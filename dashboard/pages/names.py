"""Names for machine keys: a page shows a process, step or participant by its name (the
organisation or area, the step's title) and keeps the key for the hover text (`title`).

Read from the engine's parsed definitions (innspill.process.loading caches them by content), so
a page of 50 outbox rows costs no query per row. A key that no loaded definition knows any more
(a participant removed from the file, say) is shown as it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlmodel import Session

from innspill.process.definition import ProcessDefinition
from innspill.process.loading import all_definitions

#: Above this many participants in all, the message log's participant list asks for a process
#: first (a select of 10,000 options helps nobody and weighs 500 kB).
MAX_LISTED = 1000


@dataclass(frozen=True)
class Person:
    key: str
    name: str


@dataclass
class Names:
    """The names of the loaded processes, their steps and their participants."""

    processes: dict[str, str] = field(default_factory=dict)  # id -> short title
    steps: dict[tuple[str, str], str] = field(default_factory=dict)  # (process, step) -> title
    people: dict[str, list[Person]] = field(default_factory=dict)  # process -> by name

    def process(self, process_id: str) -> str:
        return self.processes.get(process_id, process_id)

    def step(self, process_id: str, key: str) -> str:
        return self.steps.get((process_id, key), key)

    def participant(self, process_id: str, key: str) -> str:
        return next((p.name for p in self.people.get(process_id, []) if p.key == key), key)

    def add(self, definition: ProcessDefinition) -> None:
        info = definition.process
        self.processes[definition.id] = str(info.short_title or info.title)
        for step in definition.steps:
            self.steps[(definition.id, step.id)] = str(step.title)
        self.people[definition.id] = sorted(
            (Person(p.id, p.name) for p in definition.participants),
            key=lambda p: (p.name.casefold(), p.key),
        )

    def choices(self, process_id: str | None) -> list[tuple[str, list[Person]]] | None:
        """The participants to pick from, by process (its short title); one process's when it
        is chosen. None when there are too many to list without choosing a process first."""
        if process_id:
            chosen = self.people.get(process_id)
            return [(self.process(process_id), chosen)] if chosen else []
        if sum(len(p) for p in self.people.values()) > MAX_LISTED:
            return None
        return [(self.process(pid), people) for pid, people in self.people.items()]


def names_of(session: Session, process_ids: Iterable[str] | None = None) -> Names:
    """The names of these processes (every loaded one when None)."""
    wanted = set(process_ids) if process_ids is not None else None
    out = Names()
    for definition in all_definitions(session):
        if wanted is None or definition.id in wanted:
            out.add(definition)
    return out
