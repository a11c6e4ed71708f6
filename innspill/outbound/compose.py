"""Compose each kind of message: its template context, its attachments, its outbox row."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from innspill.documents.store import current_answer
from innspill.journal.record import ANSWER, answer_key, reference_of
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
from innspill.outbound.numbering import PENDING, SLOT, UNNUMBERED, PendingLetter
from innspill.outbound.shapes import Batch
from innspill.outbound.step_parts import circulation_parts, compilation_parts, meeting_parts
from innspill.outbound.templates import render
from innspill.planning.actions import Action, ActionKind
from innspill.process.deadline_reasons import ChangeInEffect, change_in_effect, choose_change
from innspill.process.deadlines import closes_on, deadlines_in
from innspill.process.definition import (
    CirculationStep,
    CompilationStep,
    MeetingStep,
    ProcessDefinition,
    RequestStep,
)
from innspill.process.workdays import OSLO, end_of_day
from innspill.tokens import TokenKey

#: Messages that say why the deadline is what it is, when a change set it.
TOLD_WHY = {ActionKind.DEADLINE_CHANGED, ActionKind.REMINDER, ActionKind.OVERDUE}


def message_context(
    definition: ProcessDefinition,
    action: Action,
    *,
    now: datetime,
    reply_to: str,
    deadline_change: ChangeInEffect | None = None,
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
        **deadline_facts(definition, action),
        "previous_deadline": action.previous_deadline,
        "letter_date": now.astimezone(OSLO).date(),
        "working_days_left": action.working_days_left,
        "overdue_number": action.overdue_number,
        "reply_to": reply_to,
        # the change that set this deadline and why (notices and reminders say it)
        "deadline_change": deadline_change,
    }


def deadline_facts(definition: ProcessDefinition, action: Action) -> dict[str, Any]:
    """What a letter says about the deadline besides its day in effect: the day as written
    when it moved (a weekend or holiday), and the last day an answer is taken."""
    step = definition.step(action.step_id)
    assert isinstance(step, RequestStep)
    closes = action.closes
    if closes is None and action.deadline is not None:
        closes = closes_on(definition, step, action.deadline)  # the file's dates: a preview
    return {"written_deadline": action.written_deadline, "closes": closes}


def _with_deadline_facts(session: Session, definition: ProcessDefinition, action: Action) -> Action:
    """`action` with the written deadline and the closing day the planner gives its actions,
    read from the database when it was made elsewhere (a resend, a manual reminder)."""
    if action.closes is not None or action.deadline is None:
        return action
    book = deadlines_in(session, definition)
    pair = (action.step_id, action.participant_id)
    moved = book.in_effect.get(pair) == action.deadline
    return replace(
        action,
        written_deadline=book.written.get(pair) if moved else None,
        closes=book.closes.get(pair),
        carries=tuple(_with_deadline_facts(session, definition, a) for a in action.carries),
    )


def outbox_row(
    definition: ProcessDefinition,
    action: Action,
    *,
    now: datetime,
    reply_to: str | None = None,
    deadline_change: ChangeInEffect | None = None,
) -> OutboxMessage:
    """Render a request step's message (invitation, reminders, notices); nothing is written."""
    return OutboxMessage(
        **request_values(
            definition, action, now=now, reply_to=reply_to, deadline_change=deadline_change
        )
    )


def request_values(
    definition: ProcessDefinition,
    action: Action,
    *,
    now: datetime,
    reply_to: str | None = None,
    deadline_change: ChangeInEffect | None = None,
) -> dict[str, Any]:
    """The outbox values of a request step's message, without tokens (a preview, say)."""
    definition = reader_view(definition, action)
    reply = reply_to or str(definition.sender.email)
    context = message_context(
        definition, action, now=now, reply_to=reply, deadline_change=deadline_change
    )
    if definition.archive is not None:  # a preview is not written, so it gets no number
        context["our_reference"] = f"{definition.process.reference}-{UNNUMBERED}"
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
    batch: Batch | None = None,
) -> dict[str, Any]:
    """Render and build the MIME bytes: the outbox row's column values, for any kind.

    Plain values, not an OutboxMessage: a large tick inserts them in bulk, and building a
    SQLModel object per message cost an eighth of the tick. With a `batch`, a message is
    filled in from its shape (outbound.shapes), to the same bytes.
    """
    sender = definition.sender
    participant = definition.participant(action.participant_id)
    # A letter of its own in a process with a journal gets its number when it is written
    # (outbound.numbering); one that shows another's number (a compilation's) has it set.
    pending = definition.archive is not None and "our_reference" not in context
    context.setdefault("our_reference", SLOT if pending else definition.process.reference)
    body: tuple[bytes, bytes] | None = None
    if batch is not None and action.kind != ActionKind.RECEIPT:  # a receipt quotes the answer
        rendered, body = batch.render(action.kind.value, participant.language, context)
    else:
        rendered = render(action.kind.value, participant.language, context)
    subject = rendered.subject + subject_suffix
    domain = str(sender.email).rsplit("@", 1)[1]
    message_id = message_id_for(action.key, domain)
    parts: dict[str, Any] = dict(
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
    row: dict[str, Any] = {
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
        # a pending letter's: with SLOT, see below
        "raw": build_message(
            **parts, body=body, encoded=batch.encoded if batch is not None else None
        ),
        "status": MessageStatus.PENDING.value,
        "attempts": 0,
        "last_error": None,
        "created_at": now,
        "next_attempt_at": now,
        "sent_at": None,
        "carried_by": None,
    }
    if pending:  # raw None: stored without its number (not NULL) the insert would fail
        row[PENDING] = PendingLetter(
            row["raw"], parts, title=rendered.subject, name=participant.name
        )
        row["raw"] = None
    return row


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
    batch: Batch | None = None,
) -> dict[str, Any]:
    """The outbox row's values for any action that sends, with what its kind carries.

    `tokens` are those issue_tokens() recorded for a batch; any other is issued here. A
    `batch` (one per transaction) renders each shape of message once (outbound.shapes).
    """
    definition = reader_view(definition, action)
    if action.carrier is not None:
        return carried_row(definition, action, now=now)
    if action.kind in REQUEST_KINDS or action.kind == ActionKind.RECEIPT:
        return _request_row(
            session,
            definition,
            action,
            now=now,
            outgoing=outgoing,
            tokens=tokens or {},
            batch=batch,
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
        definition,
        action,
        now=now,
        reply_to=reply,
        context=context,
        attachments=attachments,
        batch=batch,
    )


def _request_row(
    session: Session,
    definition: ProcessDefinition,
    action: Action,
    *,
    now: datetime,
    outgoing: Outgoing,
    tokens: Mapping[TokenKey, str],
    batch: Batch | None = None,
) -> dict[str, Any]:
    """A request step's message or a receipt: addressed with the participant's tokens."""
    reply, suffix, url = addressed(
        session, definition, action, now=now, outgoing=outgoing, tokens=tokens
    )
    action = _with_deadline_facts(session, definition, action)
    if action.kind == ActionKind.RECEIPT:
        context = receipt_context(session, definition, action, now=now, reply_to=reply)
    else:
        change = None
        if action.kind in TOLD_WHY:
            if batch is None:
                change = change_in_effect(
                    session, definition, action.step_id, action.participant_id
                )
            else:
                changes = batch.deadline_changes(session, definition.id, action.step_id)
                change = choose_change(definition, action.step_id, action.participant_id, changes)
        context = message_context(
            definition, action, now=now, reply_to=reply, deadline_change=change
        )
    context["answer_url"] = url
    attachments: list[Attachment] = []
    if action.kind == ActionKind.INVITATION:
        attachments = invitation_parts(
            session,
            definition,
            action,
            now=now,
            outgoing=outgoing,
            tokens=tokens,
            context=context,
            batch=batch,
        )
    return render_row(
        definition,
        action,
        now=now,
        reply_to=reply,
        context=context,
        subject_suffix=suffix,
        attachments=attachments,
        batch=batch,
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
    counting = current_answer(session, definition.id, step.id, action.participant_id)
    superseded = counting if counting is not None and counting.id != answer.id else None
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
        **deadline_facts(definition, action),
        # After the deadline in effect: the receipt speaks of a late answer.
        "late": action.deadline is not None and answer.received_at >= end_of_day(action.deadline),
        "channel": answer.channel,
        # the answer's document number, when the process keeps a journal
        "answer_reference": reference_of(
            session,
            ANSWER,
            answer_key(definition.id, step.id, answer.participant_key, answer.version),
        ),
        # a version received before the one that counts (a held message assigned later)
        "superseded_at": superseded.received_at.astimezone(OSLO) if superseded else None,
    }
