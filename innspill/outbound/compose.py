"""Compose each kind of message: its template context, its attachments, its outbox row."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from sqlmodel import Session, col, select

from innspill.documents.store import compilation_input, latest
from innspill.models import (
    Answer,
    AnswerAttachment,
    Document,
    MessageStatus,
    OutboxMessage,
)
from innspill.outbound.addressing import REQUEST_KINDS as REQUEST_KINDS
from innspill.outbound.addressing import Outgoing as Outgoing
from innspill.outbound.addressing import addressed
from innspill.outbound.addressing import issue_tokens as issue_tokens
from innspill.outbound.addressing import plus_address as plus_address
from innspill.outbound.ics import meeting_ics, meeting_uid
from innspill.outbound.invitation import carried_row, invitation_part, invitation_parts
from innspill.outbound.mime import Attachment, build_message, message_id_for
from innspill.outbound.templates import render
from innspill.planning.actions import Action, ActionKind
from innspill.process.definition import (
    CirculationStep,
    CompilationStep,
    MeetingStep,
    ProcessDefinition,
    RequestStep,
)
from innspill.process.workdays import OSLO, local_datetime
from innspill.rsvp import count_replies, step_replies
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
    reply = reply_to or str(definition.sender.email)
    context = message_context(definition, action, now=now, reply_to=reply)
    return render_row(definition, action, now=now, reply_to=reply, context=context)


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


def _document(
    session: Session, definition: ProcessDefinition, step_id: str, kind: str, version: int | None
) -> Document:
    row = session.exec(
        select(Document).where(
            Document.process_id == definition.id,
            Document.step_key == step_id,
            Document.kind == kind,
            Document.version == version,
        )
    ).first()
    if row is None:
        raise LookupError(f"{kind} version {version} of step '{step_id}' is not stored")
    return row


def _as_attachment(document: Document) -> Attachment:
    return Attachment(document.filename, document.content_type, document.content)


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
        attachments = _compilation_parts(
            session, definition, step, action, now=now, context=context
        )
    elif isinstance(step, MeetingStep):
        attachments = _meeting_parts(session, definition, step, action, now=now, context=context)
    elif isinstance(step, CirculationStep):
        attachments = _circulation_parts(
            session, definition, step, action, now=now, context=context
        )
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


def _compilation_parts(
    session: Session,
    definition: ProcessDefinition,
    step: CompilationStep,
    action: Action,
    *,
    now: datetime,
    context: dict[str, Any],
) -> list[Attachment]:
    """Add what a compilation's message tells to `context`; the document, as file and HTML."""
    document = _document(session, definition, step.id, "compilation", action.version)
    data = compilation_input(session, definition, step, now=now, version=document.version)
    context.update(
        source_step=data.step,
        version=document.version,
        answered=len(data.answers),
        expected=len(data.answers) + len(data.missing),
        late=[a.participant_name for a in data.answers if a.late],
        missing=[name for _, name in data.missing],
        deadline=data.deadline,
    )
    html_name = document.filename.rsplit(".", 1)[0] + ".html"
    return [
        _as_attachment(document),
        Attachment(html_name, "text/html; charset=utf-8", (document.html or "").encode()),
    ]


def _meeting_parts(
    session: Session,
    definition: ProcessDefinition,
    step: MeetingStep,
    action: Action,
    *,
    now: datetime,
    context: dict[str, Any],
) -> list[Attachment]:
    """Add the meeting's revision to `context`; a reminder's compilation, or the calendar entry."""
    context["revision"] = action.revision or 1
    if action.kind != ActionKind.MEETING_REMINDER:
        return [_meeting_ics(definition, step, action, now=now)]
    compilation = (
        latest(session, definition.id, step.attach_compilation, "compilation")
        if step.attach_compilation
        else None
    )
    context["compilation_attached"] = compilation is not None
    audience = [p.id for p in definition.audience(step.id)]
    context["replies"] = count_replies(step_replies(session, definition.id, step.id), audience)
    return [] if compilation is None else [_as_attachment(compilation)]


def _circulation_parts(
    session: Session,
    definition: ProcessDefinition,
    step: CirculationStep,
    action: Action,
    *,
    now: datetime,
    context: dict[str, Any],
) -> list[Attachment]:
    """Add the draft's facts to `context`; the draft itself, except in a reminder."""
    document = _document(session, definition, step.id, "draft", action.version)
    context.update(
        version=document.version,
        note=document.note or None,
        filename=document.filename,
        deadline=step.deadline,
    )
    if action.kind != ActionKind.TREATMENT_REMINDER:
        return [_as_attachment(document)]
    sent = _circulated_at(session, definition, step, action, version=document.version)
    context.update(
        sent_on=(sent or now).astimezone(OSLO).date(),
        reminder_number=action.overdue_number or 1,
    )
    return []


def _circulated_at(
    session: Session,
    definition: ProcessDefinition,
    step: CirculationStep,
    action: Action,
    *,
    version: int,
) -> datetime | None:
    """When this draft version was first queued for the participant, if it was."""
    return session.exec(
        select(OutboxMessage.created_at)
        .where(
            OutboxMessage.process_id == definition.id,
            OutboxMessage.step_key == step.id,
            OutboxMessage.participant_key == action.participant_id,
            OutboxMessage.kind == ActionKind.CIRCULATION.value,
            OutboxMessage.sequence == str(version),
        )
        .order_by(col(OutboxMessage.id))
    ).first()


def _meeting_ics(
    definition: ProcessDefinition, step: MeetingStep, action: Action, *, now: datetime
) -> Attachment:
    participant = definition.participant(action.participant_id)
    method: Literal["REQUEST", "CANCEL"] = (
        "CANCEL" if action.kind == ActionKind.MEETING_CANCEL else "REQUEST"
    )
    description = "\n".join(f"{n}. {item}" for n, item in enumerate(step.agenda, 1))
    data = meeting_ics(
        uid=meeting_uid(definition.id, step.id, participant.id, str(definition.sender.email)),
        sequence=(action.revision or 1) - 1,
        method=method,
        summary=step.title,
        description=description,
        location=step.place,
        url=step.video_link,
        start=local_datetime(step.date, step.start).astimezone(OSLO),
        end=local_datetime(step.date, step.end).astimezone(OSLO),
        organizer_name=f"{definition.sender.organisation}, {definition.sender.unit}",
        organizer_email=str(definition.sender.email),
        attendee_name=participant.name,
        attendee_email=str(participant.email),
        stamp=now,
    )
    return Attachment("invitasjon.ics", "text/calendar; charset=utf-8", data, (("method", method),))


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
