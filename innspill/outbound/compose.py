"""Compose each kind of message: its template context, its attachments, its outbox row."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlmodel import Session, col, select

from innspill.config.settings import Settings
from innspill.documents.store import compilation_input, latest
from innspill.models import (
    Answer,
    AnswerAttachment,
    Document,
    MessageStatus,
    OutboxMessage,
    TokenPurpose,
)
from innspill.outbound.ics import meeting_ics
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
from innspill.tokens import TokenKey, issue, issue_many


@dataclass(frozen=True)
class Outgoing:
    """How outgoing mail is addressed: the reply address, and the key and site for tokens.

    With a secret, every message about a request step carries the participant's reply token
    (as LOCAL+TOKEN@domain and `[ref:TOKEN]` in the subject), and with a public URL also the
    link to the web answer form.
    """

    reply_to: str | None = None
    secret: str | None = None
    public_url: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Outgoing:
        """Reply-To, token key and form site as configured."""
        return cls(settings.reply_to, settings.resolved_secret_key(), settings.public_url)


REQUEST_KINDS = {
    ActionKind.INVITATION,
    ActionKind.REMINDER,
    ActionKind.OVERDUE,
    ActionKind.DEADLINE_CHANGED,
}


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
    """Render a request step's message (invitation, reminders, notices); nothing is written."""
    return OutboxMessage(**request_values(definition, action, now=now, reply_to=reply_to))


def request_values(
    definition: ProcessDefinition, action: Action, *, now: datetime, reply_to: str | None = None
) -> dict[str, Any]:
    """The outbox values of a request step's message, without tokens (a preview, say)."""
    reply = reply_to or str(definition.sender.email)
    context = message_context(definition, action, now=now, reply_to=reply)
    return render_row(definition, action, now=now, reply_to=reply, context=context)


def plus_address(address: str, token: str) -> str:
    """`local+token@domain`: replies carry the token in their recipient address."""
    local, _, domain = address.partition("@")
    return f"{local.split('+', 1)[0]}+{token}@{domain}"


def _addressed(
    session: Session,
    definition: ProcessDefinition,
    action: Action,
    *,
    now: datetime,
    outgoing: Outgoing,
    tokens: Mapping[TokenKey, str],
) -> tuple[str, str, str | None]:
    """The reply address, the subject suffix and the form link for a request-step message."""
    reply = outgoing.reply_to or str(definition.sender.email)
    if not outgoing.secret:
        return reply, "", None

    def token(purpose: TokenPurpose) -> str:
        issued = tokens.get((action.step_id, action.participant_id, purpose))
        if issued is not None:
            return issued
        return issue(
            session,
            definition,
            step_id=action.step_id,
            participant_id=action.participant_id,
            purpose=purpose,
            secret=outgoing.secret or "",
            now=now,
        )

    address, suffix = reply, ""
    # A reply to a receipt ("takk!") must not become a new version of the answer: receipts
    # carry no reply token, so such replies land in the holding queue.
    if action.kind != ActionKind.RECEIPT:
        reply_token = token(TokenPurpose.REPLY)
        address, suffix = plus_address(reply, reply_token), f" [ref:{reply_token}]"
    url = None
    if outgoing.public_url:
        url = f"{outgoing.public_url.rstrip('/')}/svar/{token(TokenPurpose.FORM)}"
    return address, suffix, url


def _purposes(action: Action, outgoing: Outgoing) -> list[TokenPurpose]:
    """The tokens a message carries (what _addressed asks for)."""
    if not outgoing.secret or not action.sends:
        return []
    if action.kind not in REQUEST_KINDS and action.kind != ActionKind.RECEIPT:
        return []
    purposes = [] if action.kind == ActionKind.RECEIPT else [TokenPurpose.REPLY]
    if outgoing.public_url:
        purposes.append(TokenPurpose.FORM)
    return purposes


def issue_tokens(
    session: Session,
    definition: ProcessDefinition,
    actions: Iterable[Action],
    *,
    now: datetime,
    outgoing: Outgoing,
) -> dict[TokenKey, str]:
    """Every token the actions' messages carry, recorded in bulk; pass them on to compose()."""
    keys = [
        (action.step_id, action.participant_id, purpose)
        for action in actions
        for purpose in _purposes(action, outgoing)
    ]
    if not keys:
        return {}
    return issue_many(session, definition, keys, secret=outgoing.secret or "", now=now)


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


def compose(
    session: Session,
    definition: ProcessDefinition,
    action: Action,
    *,
    now: datetime,
    outgoing: Outgoing = Outgoing(),
    tokens: Mapping[TokenKey, str] | None = None,
) -> dict[str, Any]:
    """The outbox row's values for any action that sends, with what its kind carries.

    `tokens` are those issue_tokens() recorded for a batch; any other is issued here.
    """
    reply = outgoing.reply_to or str(definition.sender.email)
    if action.kind in REQUEST_KINDS or action.kind == ActionKind.RECEIPT:
        reply, suffix, url = _addressed(
            session, definition, action, now=now, outgoing=outgoing, tokens=tokens or {}
        )
        if action.kind == ActionKind.RECEIPT:
            context = receipt_context(session, definition, action, now=now, reply_to=reply)
        else:
            context = message_context(definition, action, now=now, reply_to=reply)
        context["answer_url"] = url
        return render_row(
            definition, action, now=now, reply_to=reply, context=context, subject_suffix=suffix
        )
    context = _base_context(definition, action, now=now, reply_to=reply)
    step = definition.step(action.step_id)
    attachments: list[Attachment] = []
    if isinstance(step, CompilationStep):
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
        attachments.append(_as_attachment(document))
        html_name = document.filename.rsplit(".", 1)[0] + ".html"
        attachments.append(
            Attachment(html_name, "text/html; charset=utf-8", (document.html or "").encode())
        )
    elif isinstance(step, MeetingStep):
        context["revision"] = action.revision or 1
        if action.kind == ActionKind.MEETING_REMINDER:
            compilation = (
                latest(session, definition.id, step.attach_compilation, "compilation")
                if step.attach_compilation
                else None
            )
            context["compilation_attached"] = compilation is not None
            if compilation is not None:
                attachments.append(_as_attachment(compilation))
        else:
            attachments.append(_meeting_ics(definition, step, action, now=now))
    elif isinstance(step, CirculationStep):
        document = _document(session, definition, step.id, "draft", action.version)
        context.update(
            version=document.version,
            note=document.note or None,
            filename=document.filename,
            deadline=step.deadline,
        )
        if action.kind == ActionKind.TREATMENT_REMINDER:
            sent = session.exec(
                select(OutboxMessage.created_at)
                .where(
                    OutboxMessage.process_id == definition.id,
                    OutboxMessage.step_key == step.id,
                    OutboxMessage.participant_key == action.participant_id,
                    OutboxMessage.kind == ActionKind.CIRCULATION.value,
                    OutboxMessage.sequence == str(document.version),
                )
                .order_by(col(OutboxMessage.id))
            ).first()
            context.update(
                sent_on=(sent or now).astimezone(OSLO).date(),
                reminder_number=action.overdue_number or 1,
            )
        else:
            attachments.append(_as_attachment(document))
    elif isinstance(step, RequestStep):
        raise ValueError(f"{action.kind} is not a message of a request step")
    return render_row(
        definition, action, now=now, reply_to=reply, context=context, attachments=attachments
    )


def _meeting_ics(
    definition: ProcessDefinition, step: MeetingStep, action: Action, *, now: datetime
) -> Attachment:
    participant = definition.participant(action.participant_id)
    domain = str(definition.sender.email).rsplit("@", 1)[1]
    method: Literal["REQUEST", "CANCEL"] = (
        "CANCEL" if action.kind == ActionKind.MEETING_CANCEL else "REQUEST"
    )
    description = "\n".join(f"{n}. {item}" for n, item in enumerate(step.agenda, 1))
    data = meeting_ics(
        # One UID per meeting and attendee: an update or a cancel replaces the same entry.
        uid=f"{definition.id}.{step.id}.{participant.id}@{domain}",
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
