"""Send a failed message again once its cause is fixed (`innspill resend`, the dashboard button).

The same message (kind, step, participant, what it announced) is rendered anew for the
participant's current address, under a new natural key (its sequence plus `-r1`, `-r2`, ...)
and so a new Message-ID, and queued as pending: the next `send` sends it. The failed row stays
as it is; the status model links the two by their keys (innspill.status.sent).

An invitation that carried others (steps opening the same day, innspill.planning.combine) is
sent again with every part it carried, and only those: the carried rows then point at the new
message (`carried_by`), so they count as sent when it is sent, and fail if it fails. Asking to
resend a carried invitation resends the message that carried it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from sqlalchemy import insert
from sqlalchemy import select as sa_select
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from innspill.errors import InnspillError
from innspill.events import record_event
from innspill.models import MessageStatus, OutboxMessage, Participant
from innspill.outbound.addressing import Outgoing
from innspill.outbound.compose import compose
from innspill.outbound.numbering import number_letters
from innspill.outbound.unrenderable import reason_of
from innspill.planning.actions import Action, ActionKind, original_sequence, resend_number
from innspill.process.definition import ProcessDefinition, RequestStep
from innspill.process.loading import get_definition

ANNOUNCING = {"invitation", "reminder", "overdue", "deadline_changed"}


class ResendRefused(InnspillError):
    """A message cannot be sent again (not failed, already sent again, address still failing)."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code  # which refusal: the dashboard says it in Norwegian


def find_message(session: Session, ref: str | int) -> OutboxMessage:
    """An outbox row by its number (as `innspill status` shows it), Message-ID or natural key."""
    text = str(ref).strip().lstrip("#")
    query = select(OutboxMessage)
    if text.isdigit():
        row = session.get(OutboxMessage, int(text))
    elif text.startswith("<"):
        row = session.exec(query.where(OutboxMessage.message_id == text)).first()
    else:
        row = session.exec(query.where(OutboxMessage.key == text)).first()
    if row is None:
        raise ResendRefused(
            f"no message '{text}' in the outbox: give the number `innspill status` shows for "
            "it (message #12), the Message-ID (<innspill...@...>) or the message's key",
            "unknown",
        )
    return row


def _siblings(session: Session, row: OutboxMessage) -> list[OutboxMessage]:
    """The message's other rows: the original and every resend of it, oldest first."""
    base = original_sequence(row.sequence)
    rows = session.exec(
        select(OutboxMessage)
        .where(
            OutboxMessage.process_id == row.process_id,
            OutboxMessage.step_key == row.step_key,
            OutboxMessage.participant_key == row.participant_key,
            OutboxMessage.kind == row.kind,
        )
        .order_by(col(OutboxMessage.id))
    ).all()
    return [r for r in rows if original_sequence(r.sequence) == base]


def resent_as(session: Session, row: OutboxMessage) -> int | None:
    """The number of the row that sent this message again, if it was (the latest one)."""
    later = [r.id for r in _siblings(session, row) if r.id is not None and r.id > (row.id or 0)]
    return later[-1] if later else None


def _previous_deadline(session: Session, row: OutboxMessage) -> date | None:
    """The deadline announced to the participant before this message (for a deadline notice)."""
    earlier = session.execute(
        sa_select(col(OutboxMessage.deadline), col(OutboxMessage.kind))
        .where(
            col(OutboxMessage.process_id) == row.process_id,
            col(OutboxMessage.step_key) == row.step_key,
            col(OutboxMessage.participant_key) == row.participant_key,
            col(OutboxMessage.id) < row.id,
            col(OutboxMessage.deadline).is_not(None),
        )
        .order_by(col(OutboxMessage.id).desc())
    ).all()
    return next((d for d, kind in earlier if kind in ANNOUNCING and d != row.deadline), None)


def _meeting_revision(session: Session, row: OutboxMessage) -> int:
    """Which revision of the meeting invitation a meeting reminder followed."""
    kinds = [ActionKind.MEETING_INVITATION.value, ActionKind.MEETING_CANCEL.value]
    sequences = session.exec(
        select(OutboxMessage.sequence).where(
            OutboxMessage.process_id == row.process_id,
            OutboxMessage.step_key == row.step_key,
            OutboxMessage.participant_key == row.participant_key,
            col(OutboxMessage.kind).in_(kinds),
            col(OutboxMessage.id) < row.id,
        )
    ).all()
    return max(1, sum(1 for s in sequences if not resend_number(s)))


def _number(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def action_of(session: Session, row: OutboxMessage, sequence: str) -> Action:
    """The action that renders `row`'s message again, under `sequence`.

    What the planner gave the action beyond its key is read back from the sequence it made
    (innspill.planning): a reminder's working days left, an overdue number, a version.
    """
    kind = ActionKind(row.kind)
    base = original_sequence(row.sequence)
    head, _, tail = base.partition("/")
    extra: dict[str, int | date | None] = {}
    if kind == ActionKind.REMINDER and tail.startswith("-"):
        extra["working_days_left"] = _number(tail[1:])
    elif kind == ActionKind.OVERDUE and tail.startswith("+"):
        extra["overdue_number"] = _number(tail[1:])
    elif kind == ActionKind.DEADLINE_CHANGED:
        extra["previous_deadline"] = _previous_deadline(session, row)
    elif kind in (ActionKind.RECEIPT, ActionKind.COMPILATION, ActionKind.CIRCULATION):
        extra["version"] = _number(base)
    elif kind == ActionKind.TREATMENT_REMINDER:
        extra["version"], extra["overdue_number"] = _number(head), _number(tail)
    elif kind in (ActionKind.MEETING_INVITATION, ActionKind.MEETING_CANCEL):
        extra["revision"] = _number(base.split(":", 1)[0])
    elif kind == ActionKind.MEETING_REMINDER:
        extra["revision"] = _meeting_revision(session, row)
    return Action(
        row.process_id,
        row.step_key,
        row.participant_key,
        kind,
        sequence,
        row.deadline,
        **extra,  # type: ignore[arg-type]
    )


def queue(
    session: Session,
    definition: ProcessDefinition,
    action: Action,
    *,
    now: datetime,
    outgoing: Outgoing,
    by: str = "",
) -> OutboxMessage:
    """Render `action`'s message and store it as pending (journaled, by `by`, when the process
    keeps a journal); refuse it if it cannot be rendered."""
    try:
        values = compose(session, definition, action, now=now, outgoing=outgoing)
    except DBAPIError:
        raise
    except Exception as exc:  # what the tick would store as failed is refused here
        raise ResendRefused(
            f"the message still {reason_of(exc)}; correct the process file and load it again",
            "unrenderable",
        ) from exc
    rows = number_letters(session, definition, [values], now=now, by=by)
    session.execute(insert(OutboxMessage), rows)
    return session.exec(select(OutboxMessage).where(OutboxMessage.key == action.key)).one()


def _carrier_of(session: Session, row: OutboxMessage) -> OutboxMessage:
    """What to send again for `row`: for a carried invitation, the message that carried it
    (it is sent again with every part); else `row` itself."""
    if row.status != MessageStatus.COMBINED or not row.carried_by:
        return row
    carrier = session.exec(select(OutboxMessage).where(OutboxMessage.key == row.carried_by)).first()
    if carrier is None or carrier.status != MessageStatus.FAILED:
        sent = f"#{carrier.id} ({carrier.status})" if carrier else "that is no longer stored"
        raise ResendRefused(
            f"message #{row.id} ({row.kind} to {row.recipient}) went inside message {sent}, "
            "which has not failed: only a failed one is resent",
            "not_failed",
        )
    if any(
        r.id is not None and carrier.id is not None and r.id > carrier.id
        for r in _siblings(session, carrier)
    ):
        # Sent again before resends carried their parts (the carried row would point at the
        # resend): this part never went out, so it is sent on its own.
        return row
    return carrier


def _carried(
    session: Session, definition: ProcessDefinition, row: OutboxMessage
) -> list[OutboxMessage]:
    """The invitations `row` carried that still belong to the process: the same participant
    still asked in a request step of it."""
    rows = session.exec(
        select(OutboxMessage)
        .where(
            OutboxMessage.carried_by == row.key,
            OutboxMessage.status == MessageStatus.COMBINED,
        )
        .order_by(col(OutboxMessage.id))
    ).all()
    steps = {s.id for s in definition.steps if isinstance(s, RequestStep)}
    return [
        r
        for r in rows
        if r.step_key in steps
        and r.participant_key in {p.id for p in definition.audience(r.step_key)}
    ]


def resend(
    session: Session,
    ref: str | int,
    *,
    now: datetime,
    by: str,
    outgoing: Outgoing | None = None,
) -> tuple[OutboxMessage, OutboxMessage]:
    """Queue a failed message again for the participant's current address: (failed, new)."""
    row = _carrier_of(session, find_message(session, ref))
    label = f"message #{row.id} ({row.kind} to {row.recipient or 'no address'})"
    alone = row.status == MessageStatus.COMBINED  # a part whose carrier went again without it
    if row.status != MessageStatus.FAILED and not alone:
        raise ResendRefused(
            f"{label} is {row.status}, not failed: only a failed one is resent", "not_failed"
        )
    siblings = _siblings(session, row)
    later = [r for r in siblings if r.id is not None and row.id is not None and r.id > row.id]
    if later:
        raise ResendRefused(
            f"{label} was sent again already, as message #{later[-1].id}", "already_resent"
        )
    definition = get_definition(session, row.process_id)
    try:
        person = definition.participant(row.participant_key)
    except KeyError:
        raise ResendRefused(
            f"{label}: '{row.participant_key}' is no longer a participant of {row.process_id}",
            "no_participant",
        ) from None
    address = str(person.email)
    failing = session.exec(
        select(Participant.address_failing).where(
            Participant.process_id == row.process_id, Participant.key == row.participant_key
        )
    ).first()
    if failing and address == row.recipient:
        raise ResendRefused(
            f"{label}: the address {address} of {person.id} still fails (mail to it was refused)."
            " Correct it in the process file and load it again (`innspill load FILE`), then "
            "resend",
            "address_failing",
        )
    number = 1 + max(resend_number(r.sequence) for r in siblings)
    sequence = f"{original_sequence(row.sequence)}-r{number}"
    action = action_of(session, row, sequence)
    carried = [] if alone else _carried(session, definition, row)
    if carried:
        parts = tuple(action_of(session, c, c.sequence) for c in carried)
        action = replace(action, carries=parts)
    new = queue(session, definition, action, now=now, outgoing=outgoing or Outgoing(), by=by)
    for part in carried:  # they go inside the new message now, and stand where it stands
        part.carried_by = new.key
        session.add(part)
    also = "".join(f", carrying #{c.id} ({c.step_key})" for c in carried)
    record_event(
        session,
        row.process_id,
        now,
        "message_resent",
        step=row.step_key,
        participant=row.participant_key,
        detail=f"{row.kind} #{row.id} {row.message_id} sent again as #{new.id} {new.message_id} "
        f"to {new.recipient}{also}",
        by=by,
    )
    return row, new
