"""A load's dry run: what it would change, and what the next ticks would send because of it.

`preview_load` computes the change list with the load's own `plan_load` (the same function
`store_definition` applies) and compares the forecast under the loaded definition with the
forecast under the new one. Nothing is written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from innspill.models import DeadlineChange
from innspill.planning.forecast import Planned, forecast
from innspill.planning.state import load_state, with_deadlines
from innspill.process.definition import ProcessDefinition
from innspill.process.loading import PlannedLoad, plan_load


@dataclass(frozen=True)
class LoadPreview:
    """The planned load, and the forecast lines it adds and removes (oldest first)."""

    planned: PlannedLoad
    added: list[Planned] = field(default_factory=list)
    removed: list[Planned] = field(default_factory=list)


def preview_load(
    session: Session, definition: ProcessDefinition, *, source: str, now: datetime, by: str = ""
) -> LoadPreview:
    """What loading `definition` now would do; raises `ChangeRefused` as the load would."""
    planned = plan_load(session, definition, source=source, now=now, by=by)
    if planned.outcome == "unchanged":
        return LoadPreview(planned)
    state = load_state(session, definition)
    if planned.deadline_changes:
        stored = session.exec(
            select(DeadlineChange)
            .where(DeadlineChange.process_id == definition.id)
            .order_by(col(DeadlineChange.changed_at), col(DeadlineChange.id))
        ).all()
        with_deadlines(state, definition, [*stored, *planned.deadline_changes])
    after = forecast(definition, state, now)
    before = (
        forecast(planned.old, load_state(session, planned.old), now)
        if planned.old is not None
        else []
    )
    return LoadPreview(planned, _minus(after, before), _minus(before, after))


def _line(p: Planned) -> Hashable:
    a = p.action
    return (p.at, a.kind, a.step_id, a.participant_id, a.sequence, a.skip_reason)


def _minus(these: list[Planned], those: list[Planned]) -> list[Planned]:
    """The lines of `these` not in `those` (as many times as they are missing)."""
    left = Counter(_line(p) for p in those)
    out = []
    for p in these:
        key = _line(p)
        if left[key]:
            left[key] -= 1
        else:
            out.append(p)
    return out
