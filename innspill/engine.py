"""One tick of the engine: plan what is due, render it, and store it in the outbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from innspill.compose import compose, outbox_row
from innspill.definition import ProcessDefinition
from innspill.documents import make_compilation
from innspill.events import record_event
from innspill.planner import Action, ActionKind, plan
from innspill.processes import all_definitions
from innspill.state import load_state
from models.db import session_scope

__all__ = ["TickReport", "outbox_row", "tick", "tick_process"]


@dataclass
class TickReport:
    """What one tick queued and skipped, per process."""

    queued: list[Action] = field(default_factory=list)
    skipped: list[Action] = field(default_factory=list)
    compiled: list[Action] = field(default_factory=list)

    def merge(self, other: TickReport) -> None:
        self.queued += other.queued
        self.skipped += other.skipped
        self.compiled += other.compiled


def tick_process(
    engine: Engine,
    definition: ProcessDefinition,
    *,
    now: datetime,
    reply_to: str | None = None,
    steps: set[str] | None = None,
) -> TickReport:
    """Plan one process at `now` and record every action in one transaction.

    A concurrent tick that recorded the same keys first makes this one fail on the unique
    keys; it is then planned again, which finds nothing left to do.
    """
    for _attempt in range(3):
        try:
            with session_scope(engine) as session:
                actions = plan(definition, load_state(session, definition), now, steps=steps)
                report = TickReport()
                for action in actions:
                    if action.kind == ActionKind.COMPILE:
                        make_compilation(
                            session, definition, action.step_id, now=now, basis=action.basis or ""
                        )
                        report.compiled.append(action)
                    elif action.sends:
                        session.add(
                            compose(session, definition, action, now=now, reply_to=reply_to)
                        )
                        record_event(
                            session,
                            definition.id,
                            now,
                            "message_queued",
                            step=action.step_id,
                            participant=action.participant_id,
                            detail=f"{action.kind.value} {action.sequence}",
                        )
                        report.queued.append(action)
                    else:
                        record_event(
                            session,
                            definition.id,
                            now,
                            f"{action.kind.value}_skipped",
                            step=action.step_id,
                            participant=action.participant_id,
                            detail=action.skip_reason or "",
                            key=action.key,
                        )
                        report.skipped.append(action)
            return report
        except IntegrityError:
            continue
    raise RuntimeError(f"tick of '{definition.id}' kept colliding with another tick")


def tick(engine: Engine, *, now: datetime, reply_to: str | None = None) -> TickReport:
    """Plan and record every loaded process at `now`."""
    with session_scope(engine) as session:
        definitions = all_definitions(session)
    report = TickReport()
    for definition in definitions:
        report.merge(tick_process(engine, definition, now=now, reply_to=reply_to))
    return report
