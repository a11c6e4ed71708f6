"""Compose each kind of message: its template context, its attachments, its outbox row."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from innspill.models import (
    Answer,
    AnswerAttachment,
    MessageStatus,
    OutboxMessage,
)
from innspill.outbound.addressing import REQUEST_KINDS as REQUEST_KINDS
from innspill.outbound.addressing import Outgoing as Outgoing
from innspill.outbound.addressing import addressed
from innspill.outbound.addressing import issue_tokens as issue_tokens
from innspill.outbound.addressing import plus_address as plus_address
from innspill.outbound.invitation import carried_row, invitation_part, invitation_parts
from innspill.outbound.mime import Attachment, build_message, message_id_for
from innspill.outbound.step_parts import circulation_parts, compilation_parts, meeting_parts
from innspill.outbound.templates import render
from innspill.planning.actions import Action, ActionKind
from innspill.process.definition import (
    CirculationStep,
    CompilationStep,
    MeetingStep,
    ProcessDefinition,
    RequestStep,
)
from innspill.process.workdays import OSLO
from innspill.tokens import TokenKey


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
        # The steps an invitation is about: its own, then those it carries (planning.combine).
        "parts": [
            invitation_part(definition, a, reply_to=reply_to) for a in (action, *action.carries)
        ],
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
    """Render a request step's message (invitation, reminders, notices); nothing is written."""
    return OutboxMessage(**request_values(definition, action, now=now, reply_to=reply_to))


def request_values(
    definition: ProcessDefinition, action: Action, *, now: datetime, reply_to: str | None = None
) -> dict[str, Any]:
    """The outbox values of a request step's message, without tokens (a preview, say)."""
    definition = reader_view(definition, action)
    reply = reply_to or str(definition.sender.email)
    context = message_context(definition, action, now=now, reply_to=reply)
    return render_row(definition, action, now=now, reply_to=reply, context=context)


def reader_view(definition: ProcessDefinition, action: Action) -> ProcessDefinition:
    """The definition in the language of the action's participant: what their letter reads."""
    return definition.in_language(definition.participant(action.participant_id).language)


def render_row(
    definition: ProcessDefinition,
    action: Action,
    *,
    now: datetime,
    reply_to: str,
    context: dict[str, Any],
    attachments: Sequence[Attachment] = (),
    subject_suffix: str = "",
) -> dict[str, Any]:
    """Render and build the MIME bytes: the outbox row's column values, for any kind.

    Plain values, not an OutboxMessage: a large tick inserts them in bulk, and building a
    SQLModel object per message cost an eighth of the tick.
    """
    sender = definition.sender
    participant = definition.participant(action.participant_id)
    rendered = render(action.kind.value, participant.language, context)
    subject = rendered.subject + subject_suffix
    domain = str(sender.email).rsplit("@", 1)[1]
    message_id = message_id_for(action.key, domain)
    raw = build_message(
        sender_name=f"{sender.organisation}, {sender.unit}",
        sender_address=str(sender.email),
        recipient_name=participant.name,
        recipient_address=str(participant.email),
        reply_to=reply_to,
        subject=subject,
        text=rendered.text,
        html=rendered.html,
        message_id=message_id,
        date=now,
        extra_headers={
            "X-Innspill-Reference": definition.process.reference,
            "X-Innspill-Step": action.step_id,
            "X-Innspill-Kind": action.kind.value,
        },
        attachments=attachments,
    )
    return {
        "key": action.key,
        "process_id": definition.id,
        "step_key": action.step_id,
        "participant_key": action.participant_id,
        "kind": action.kind.value,
        "sequence": action.sequence,
        "message_id": message_id,
        "sender": str(sender.email),
        "recipient": str(participant.email),
        "subject": subject,
        "deadline": action.deadline,
        "raw": raw,
        "status": MessageStatus.PENDING.value,
        "attempts": 0,
        "last_error": None,
        "created_at": now,
        "next_attempt_at": now,
        "sent_at": None,
        "carried_by": None,
    }


def _base_context(
    definition: ProcessDefinition, action: Action, *, now: datetime, reply_to: str
) -> dict[str, Any]:
    return {
        "process": definition.process,
        "sender": definition.sender,
        "participant": definition.participant(action.participant_id),
        "step": definition.step(action.step_id),
        "letter_date": now.astimezone(OSLO).date(),
        "reply_to": reply_to,
    }


# Plain addressing (no tokens); a module constant, as Outgoing is defined elsewhere now.
_PLAIN = Outgoing()


def compose(
    session: Session,
    definition: ProcessDefinition,
    action: Action,
    *,
    now: datetime,
    outgoing: Outgoing = _PLAIN,
    tokens: Mapping[TokenKey, str] | None = None,
) -> dict[str, Any]:
    """The outbox row's values for any action that sends, with what its kind carries.

    `tokens` are those issue_tokens() recorded for a batch; any other is issued here.
    """
    definition = reader_view(definition, action)
    if action.carrier is not None:
        return carried_row(definition, action, now=now)
    if action.kind in REQUEST_KINDS or action.kind == ActionKind.RECEIPT:
        return _request_row(
            session, definition, action, now=now, outgoing=outgoing, tokens=tokens or {}
        )
    reply = outgoing.reply_to or str(definition.sender.email)
    context = _base_context(definition, action, now=now, reply_to=reply)
    step = definition.step(action.step_id)
    attachments: list[Attachment] = []
    if isinstance(step, CompilationStep):
        attachments = compilation_parts(session, definition, step, action, now=now, context=context)
    elif isinstance(step, MeetingStep):
        attachments = meeting_parts(session, definition, step, action, now=now, context=context)
    elif isinstance(step, CirculationStep):
        attachments = circulation_parts(session, definition, step, action, now=now, context=context)
    elif isinstance(step, RequestStep):
        raise ValueError(f"{action.kind} is not a message of a request step")
    return render_row(
        definition, action, now=now, reply_to=reply, context=context, attachments=attachments
    )


def _request_row(
    session: Session,
    definition: ProcessDefinition,
    action: Action,
    *,
    now: datetime,
    outgoing: Outgoing,
    tokens: Mapping[TokenKey, str],
) -> dict[str, Any]:
    """A request step's message or a receipt: addressed with the participant's tokens."""
    reply, suffix, url = addressed(
        session, definition, action, now=now, outgoing=outgoing, tokens=tokens
    )
    if action.kind == ActionKind.RECEIPT:
        context = receipt_context(session, definition, action, now=now, reply_to=reply)
    else:
        context = message_context(definition, action, now=now, reply_to=reply)
    context["answer_url"] = url
    attachments: list[Attachment] = []
    if action.kind == ActionKind.INVITATION:
        attachments = invitation_parts(
            session, definition, action, now=now, outgoing=outgoing, tokens=tokens, context=context
        )
    return render_row(
        definition,
        action,
        now=now,
        reply_to=reply,
        context=context,
        subject_suffix=suffix,
        attachments=attachments,
    )


def receipt_context(
    session: Session,
    definition: ProcessDefinition,
    action: Action,
    *,
    now: datetime,
    reply_to: str,
) -> dict[str, Any]:
    """What a receipt confirms: the answer version as received, theme by theme, and its files."""
    step = definition.step(action.step_id)
    assert isinstance(step, RequestStep)
    answer = session.exec(
        select(Answer).where(
            Answer.process_id == definition.id,
            Answer.step_key == step.id,
            Answer.participant_key == action.participant_id,
            Answer.version == action.version,
        )
    ).one()
    texts = json.loads(answer.text_json)
    files = session.exec(
        select(AnswerAttachment.filename).where(AnswerAttachment.answer_id == answer.id)
    ).all()
    return {
        **_base_context(definition, action, now=now, reply_to=reply_to),
        "themes": definition.themes_of(step),
        "answer_texts": [(t.title, texts.get(t.id, "")) for t in definition.themes_of(step)],
        "general_text": texts.get("", ""),
        "files": list(files),
        "version": answer.version,
        "received_at": answer.received_at.astimezone(OSLO),
        "deadline": action.deadline,
        "channel": answer.channel,
    }
