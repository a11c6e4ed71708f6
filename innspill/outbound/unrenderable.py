"""A message that cannot be rendered is stored as failed, so it stops no other message.

A header that would inject lines, a template error, an address the email package refuses or
a missing attachment: the tick records the message as FAILED with the reason (its natural key
stored, so it is not tried again every tick) and goes on with the others. `innspill resend`
renders it again once the cause is fixed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from innspill.models import MessageStatus
from innspill.outbound.addressing import Outgoing
from innspill.outbound.compose import compose
from innspill.outbound.mime import message_id_for
from innspill.outbound.shapes import Batch
from innspill.planning.actions import Action
from innspill.process.definition import ProcessDefinition
from innspill.tokens import TokenKey

#: Longest reason kept in `last_error` (one line).
MAX_REASON = 500


def reason_of(exc: BaseException) -> str:
    """Why a message could not be rendered, in one line."""
    text = " ".join(str(exc).split()) or "no detail"
    return f"could not be rendered ({type(exc).__name__}): {text}"[:MAX_REASON]


def compose_or_fail(
    session: Session,
    definition: ProcessDefinition,
    action: Action,
    *,
    now: datetime,
    outgoing: Outgoing,
    tokens: Mapping[TokenKey, str] | None = None,
    batch: Batch | None = None,
) -> tuple[dict[str, Any], str | None]:
    """The outbox row of `action`, and None; or a FAILED row without bytes and the reason.

    Database errors are not the message's fault: they go up, so the tick retries or stops.
    """
    try:
        row = compose(
            session, definition, action, now=now, outgoing=outgoing, tokens=tokens, batch=batch
        )
    except DBAPIError:
        raise
    except Exception as exc:  # whatever broke this message must not stop the others
        reason = reason_of(exc)
        return failed_row(definition, action, now=now, reason=reason), reason
    return row, None


def carrier_failed(
    definition: ProcessDefinition,
    action: Action,
    row: dict[str, Any],
    failed: Mapping[str, str],
    *,
    now: datetime,
) -> tuple[dict[str, Any], str | None]:
    """A carried invitation shares its carrier's fate: when the message that was to carry it
    could not be rendered, it stays recorded as carried by that failed message (so it counts
    as failed, never as invited: models.outbox.delivery_status), and the reason is reported.
    Resending the carrier carries it again (innspill.outbound.resend)."""
    carrier = row.get("carried_by")
    if not carrier or carrier not in failed:
        return row, None
    return row, f"the invitation meant to carry it failed: {failed[carrier]}"[:MAX_REASON]


def failed_row(
    definition: ProcessDefinition, action: Action, *, now: datetime, reason: str
) -> dict[str, Any]:
    """The outbox values of a message that could not be rendered: failed, empty raw."""
    sender = str(definition.sender.email)
    try:
        recipient = str(definition.participant(action.participant_id).email)
    except (KeyError, ValueError, LookupError):
        recipient = ""
    return {
        "key": action.key,
        "process_id": definition.id,
        "step_key": action.step_id,
        "participant_key": action.participant_id,
        "kind": action.kind.value,
        "sequence": action.sequence,
        "message_id": message_id_for(action.key, sender.rsplit("@", 1)[-1]),
        "sender": sender,
        "recipient": recipient,
        "subject": "",
        "deadline": action.deadline,
        "raw": b"",
        "status": MessageStatus.FAILED.value,
        "carried_by": None,
        "attempts": 0,
        "last_error": reason,
        "created_at": now,
        "next_attempt_at": now,
        "sent_at": None,
    }


def failed_event(
    definition: ProcessDefinition, action: Action, *, now: datetime, reason: str
) -> dict[str, Any]:
    """The event of a message that could not be rendered."""
    return {
        "process_id": definition.id,
        "at": now,
        "kind": "message_failed",
        "step_key": action.step_id,
        "participant_key": action.participant_id,
        "detail": f"{action.kind.value} {action.sequence}: {reason}",
        "key": None,
    }
