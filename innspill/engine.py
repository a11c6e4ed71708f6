"""One tick of the engine: plan what is due, render it, and store it in the outbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from innspill.definition import ProcessDefinition, RequestStep
from innspill.events import record_event
from innspill.mime import build_message, message_id_for
from innspill.planner import Action, plan
from innspill.processes import all_definitions
from innspill.rendering import render
from innspill.state import load_state
from innspill.workdays import OSLO
from models import OutboxMessage
from models.db import session_scope


@dataclass
class TickReport:
    """What one tick queued and skipped, per process."""

    queued: list[Action] = field(default_factory=list)
    skipped: list[Action] = field(default_factory=list)

    def merge(self, other: TickReport) -> None:
        self.queued += other.queued
        self.skipped += other.skipped


def message_context(
    definition: ProcessDefinition, action: Action, *, now: datetime, reply_to: str
) -> dict[str, Any]:
    """The template context for an action (see email_templates/ for the names used)."""
    step = definition.step(action.step_id)
    assert isinstance(step, RequestStep)
    return {
        "process": definition.process,
        "sender": definition.sender,
        "participant": definition.participant(action.participant_id),
        "step": step,
        "themes": definition.themes_of(step),
        "deadline": action.deadline,
        "previous_deadline": action.previous_deadline,
        "letter_date": now.astimezone(OSLO).date(),
        "working_days_left": action.working_days_left,
        "overdue_number": action.overdue_number,
        "reply_to": reply_to,
    }


def outbox_row(
    definition: ProcessDefinition, action: Action, *, now: datetime, reply_to: str | None = None
) -> OutboxMessage:
    """Render an action's message into an outbox row (nothing is written)."""
    sender = definition.sender
    reply = reply_to or str(sender.email)
    participant = definition.participant(action.participant_id)
    rendered = render(
        action.kind.value,
        participant.language,
        message_context(definition, action, now=now, reply_to=reply),
    )
    domain = str(sender.email).rsplit("@", 1)[1]
    message_id = message_id_for(action.key, domain)
    raw = build_message(
        sender_name=f"{sender.organisation}, {sender.unit}",
        sender_address=str(sender.email),
        recipient_name=participant.name,
        recipient_address=str(participant.email),
        reply_to=reply,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        message_id=message_id,
        date=now,
        extra_headers={"X-Innspill-Reference": definition.process.reference},
    )
    return OutboxMessage(
        key=action.key,
        process_id=definition.id,
        step_key=action.step_id,
        participant_key=action.participant_id,
        kind=action.kind.value,
        sequence=action.sequence,
        message_id=message_id,
        sender=str(sender.email),
        recipient=str(participant.email),
        subject=rendered.subject,
        deadline=action.deadline,
        raw=raw,
        created_at=now,
        next_attempt_at=now,
    )


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
                    if action.sends:
                        session.add(outbox_row(definition, action, now=now, reply_to=reply_to))
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
