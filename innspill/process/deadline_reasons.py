"""Why a participant's deadline is what it is: the change in effect and the reason given for it,
for the notice of the change and the reminders that follow (innspill.outbound.compose)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from innspill.models import DeadlineChange
from innspill.process.deadline_rule import in_effect
from innspill.process.definition import ProcessDefinition, RequestStep

_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class ChangeInEffect:
    """The deadline change that sets a participant's deadline now, and why."""

    original: date  # the deadline of the process file, as it runs (holidays: process.deadlines)
    deadline: date  # what the change set
    reason: str  # as the case officer gave it, as one sentence; "" when none was given
    personal: bool  # an extension for this participant, not a change for everyone

    @property
    def later(self) -> bool:
        return self.deadline > self.original


def as_sentence(text: str) -> str:
    """One line, ending in a full stop unless it ends in punctuation already."""
    line = _SPACE.sub(" ", text).strip()
    return line if not line or line[-1] in ".!?:;…»)\"'" else line + "."


def change_in_effect(
    session: Session, definition: ProcessDefinition, step_id: str, participant_id: str
) -> ChangeInEffect | None:
    """The change that sets the participant's deadline in the step, None if it is the file's."""
    changes = step_changes(session, definition.id, step_id, participant_id)
    return choose_change(definition, step_id, participant_id, changes)


def step_changes(
    session: Session, process_id: str, step_id: str, participant_id: str | None = None
) -> list[DeadlineChange]:
    """The step's deadline changes in the order they were made: those for everyone and the
    participant's own (every participant's, when `participant_id` is None)."""
    query = select(DeadlineChange).where(
        DeadlineChange.process_id == process_id, DeadlineChange.step_key == step_id
    )
    if participant_id is not None:
        query = query.where(
            (col(DeadlineChange.participant_key) == participant_id)
            | col(DeadlineChange.participant_key).is_(None)
        )
    return list(
        session.exec(query.order_by(col(DeadlineChange.changed_at), col(DeadlineChange.id))).all()
    )


def choose_change(
    definition: ProcessDefinition,
    step_id: str,
    participant_id: str,
    changes: list[DeadlineChange],
) -> ChangeInEffect | None:
    """Of the step's changes (step_changes, any participant's among them), the one in effect.

    As innspill.process.deadlines decides: the latest change for the whole step, unless the
    participant's own latest extension is later than that.
    """
    step = definition.step(step_id)
    if not isinstance(step, RequestStep):
        return None
    everyone = next((c for c in reversed(changes) if c.participant_key is None), None)
    own = next((c for c in reversed(changes) if c.participant_key == participant_id), None)
    for_all = everyone.deadline if everyone is not None else in_effect(definition, step.deadline)
    chosen = own if own is not None and own.deadline > for_all else everyone
    if chosen is None:
        return None
    return ChangeInEffect(
        original=in_effect(definition, step.deadline),
        deadline=chosen.deadline,
        reason=as_sentence(chosen.reason),
        personal=chosen.participant_key is not None,
    )
