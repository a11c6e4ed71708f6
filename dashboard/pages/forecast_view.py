"""What goes out next, for a page: the forecast's lines grouped by day, then by message.

The lines come from `innspill.planning.forecast.forecast` (the same `plan()` the tick runs).
The messages of one kind that go out at the same time in the same step are one group with
their recipients (name and address), so 100 invitations are one line with a list to open.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from innspill.dashboard import labels
from innspill.planning.forecast import Planned
from innspill.process.definition import ProcessDefinition
from innspill.process.workdays import OSLO


@dataclass(frozen=True)
class Recipient:
    key: str
    name: str
    email: str


@dataclass
class Group:
    """Messages of one kind at one time in one step (or one skip reason), with recipients."""

    at: datetime
    time: str  # "09.00", or "" for the next tick
    kind: str  # the code word (`invitation`, `compile`, ...)
    kind_label: str
    step: str
    step_title: str
    skipped: str  # why these will not be sent, or ""
    recipients: list[Recipient] = field(default_factory=list)


@dataclass
class Day:
    day: date
    label: str  # "mandag 30. mars 2020"
    groups: list[Group] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(max(1, len(g.recipients)) for g in self.groups)


def group(definition: ProcessDefinition, planned: list[Planned], now: datetime) -> list[Day]:
    """The forecast's lines by local day and (time, kind, step, skip reason), in time order."""
    people = {p.id: p for p in definition.participants}
    titles = {s.id: s.title for s in definition.steps}
    days: dict[date, Day] = {}
    groups: dict[tuple[datetime, str, str, str], Group] = {}
    for p in planned:
        a = p.action
        local = p.at.astimezone(OSLO)
        key = (p.at, a.kind.value, a.step_id, a.skip_reason or "")
        g = groups.get(key)
        if g is None:
            day = days.get(local.date())
            if day is None:
                day = days[local.date()] = Day(local.date(), day_label(local.date()))
            g = groups[key] = Group(
                at=p.at,
                time="" if p.at == now else local.strftime("%H.%M"),
                kind=a.kind.value,
                kind_label=labels.MESSAGE_KINDS.get(a.kind.value, a.kind.value),
                step=a.step_id,
                step_title=titles.get(a.step_id, a.step_id),
                skipped=a.skip_reason or "",
            )
            day.groups.append(g)
        person = people.get(a.participant_id)
        if person is not None:
            g.recipients.append(Recipient(person.id, person.name, str(person.email)))
        elif a.participant_id:
            g.recipients.append(Recipient(a.participant_id, a.participant_id, ""))
    return list(days.values())


def day_label(day: date) -> str:
    return labels.fmt_weekday(day)
