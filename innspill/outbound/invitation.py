"""Invitations: each step's part (its text, themes, deadline, files and how to answer it), and
the outbox row of an invitation carried by another (steps opening the same day for one
participant go out as one message; see innspill.planning.combine)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlmodel import Session

from innspill.models import MessageStatus
from innspill.outbound.addressing import Outgoing, addressed
from innspill.outbound.mime import Attachment, message_id_for
from innspill.outbound.shapes import Batch
from innspill.planning.actions import Action
from innspill.process.attachments import step_files
from innspill.process.definition import ProcessDefinition, RequestStep
from innspill.process.schema import sent_name
from innspill.tokens import TokenKey


def invitation_part(
    definition: ProcessDefinition, action: Action, *, reply_to: str, answer_url: str | None = None
) -> dict[str, Any]:
    """One step of an invitation: its text, themes, deadline, files, and how to answer it."""
    step = definition.step(action.step_id)
    assert isinstance(step, RequestStep)
    return {
        "step": step,
        "intro": step.intro,
        "themes": definition.themes_of(step),
        "deadline": action.deadline,
        "written_deadline": action.written_deadline,  # when it moved: a weekend or holiday
        # As the letter names them: `Forslag til oppdrag (oppdrag.pdf)`, or the name as sent.
        "attachments": [
            getattr(name, "label", None) or sent_name(name) for name in step.attachments
        ],
        "reply_to": reply_to,
        "answer_url": answer_url,
    }


def invitation_parts(
    session: Session,
    definition: ProcessDefinition,
    action: Action,
    *,
    now: datetime,
    outgoing: Outgoing,
    tokens: Mapping[TokenKey, str],
    context: dict[str, Any],
    batch: Batch | None = None,
) -> list[Attachment]:
    """Set `parts` in an invitation's context (its step, then those it carries, each with its
    reply address and form link); the files of all of them, byte for byte as loaded (read
    once per `batch`: every invitation of a step carries the same)."""
    context["parts"] = [
        invitation_part(
            definition, action, reply_to=context["reply_to"], answer_url=context["answer_url"]
        ),
        *_carried_parts(session, definition, action, now=now, outgoing=outgoing, tokens=tokens),
    ]
    steps = [part["step"].id for part in context["parts"]]
    if batch is not None:
        files = batch.step_files(session, definition.id, steps)
    else:
        files = step_files(session, definition.id, steps)
    return [Attachment(f.filename, f.content_type, f.data) for f in files]


def _carried_parts(
    session: Session,
    definition: ProcessDefinition,
    action: Action,
    *,
    now: datetime,
    outgoing: Outgoing,
    tokens: Mapping[TokenKey, str],
) -> list[dict[str, Any]]:
    """The parts of the steps an invitation carries, each with its own reply address and form
    link: a reply to the message itself is an answer to the first step only."""
    out = []
    for other in action.carries:
        reply, _suffix, url = addressed(
            session, definition, other, now=now, outgoing=outgoing, tokens=tokens
        )
        out.append(invitation_part(definition, other, reply_to=reply, answer_url=url))
    return out


def carried_row(definition: ProcessDefinition, action: Action, *, now: datetime) -> dict[str, Any]:
    """The outbox row of an invitation that went out inside another (planning.combine): it
    records the step's invitation for the planner and the status, and is never sent itself."""
    assert action.carrier is not None
    participant = definition.participant(action.participant_id)
    domain = str(definition.sender.email).rsplit("@", 1)[1]
    carrier = definition.step(action.carrier.step_id)
    return {
        "key": action.key,
        "process_id": definition.id,
        "step_key": action.step_id,
        "participant_key": action.participant_id,
        "kind": action.kind.value,
        "sequence": action.sequence,
        "message_id": message_id_for(action.key, domain),
        "sender": str(definition.sender.email),
        "recipient": str(participant.email),
        "subject": f"(sendt sammen med invitasjonen til «{carrier.title}»)",
        "deadline": action.deadline,
        "raw": b"",
        "status": MessageStatus.COMBINED.value,
        "attempts": 0,
        "last_error": None,
        "created_at": now,
        "next_attempt_at": now,
        "sent_at": None,
        "carried_by": action.carrier.key,
    }
