"""What messages about the later steps carry: a compilation's document, a meeting's calendar
entry (or, in the reminder, the latest compilation), a circulation's draft."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlmodel import Session, col, select

from innspill.documents.store import compilation_input, compiled_files, latest
from innspill.journal.record import COMPILATION, document_key, reference_of
from innspill.models import Document, OutboxMessage
from innspill.outbound.ics import meeting_ics, meeting_location, meeting_uid
from innspill.outbound.mime import Attachment
from innspill.outbound.templates import environment
from innspill.planning.actions import Action, ActionKind
from innspill.process.definition import (
    CirculationStep,
    CompilationStep,
    MeetingStep,
    ProcessDefinition,
)
from innspill.process.workdays import OSLO, local_datetime
from innspill.rsvp import count_replies, step_replies


def stored_document(
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


def as_attachment(document: Document) -> Attachment:
    return Attachment(document.filename, document.content_type, document.content)


def compilation_parts(
    session: Session,
    definition: ProcessDefinition,
    step: CompilationStep,
    action: Action,
    *,
    now: datetime,
    context: dict[str, Any],
) -> list[Attachment]:
    """Add what a compilation's message tells to `context`; the document, as file and HTML."""
    document = stored_document(session, definition, step.id, "compilation", action.version)
    data = compilation_input(session, definition, step, now=now, version=document.version)
    # The mail is how the compilation reaches its (internal) readers, not a letter of its
    # own: it shows the compilation's document number (innspill.journal).
    key = document_key(definition.id, step.id, COMPILATION, document.version)
    context["our_reference"] = (
        reference_of(session, COMPILATION, key) or definition.process.reference
    )
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
    files, left = _answer_files(session, definition, step, made=document.created_at)
    context.update(answer_files=[f.filename for f in files], answer_files_left=left)
    return [
        as_attachment(document),
        Attachment(html_name, "text/html; charset=utf-8", (document.html or "").encode()),
        *files,
    ]


#: At most this much of the participants' files goes with one compilation's mail (they are
#: base64-encoded, a third larger, and relays commonly refuse mail over 25-35 MB).
MAX_FILES_IN_MAIL = 15 * 1024 * 1024


def _answer_files(
    session: Session, definition: ProcessDefinition, step: CompilationStep, *, made: datetime
) -> tuple[list[Attachment], list[str]]:
    """The files of the compiled answers, byte for byte, each named after its participant
    ("Bergen - innspill.pdf"); those over MAX_FILES_IN_MAIL in all are named, not attached."""
    attached: list[Attachment] = []
    left: list[str] = []
    used: set[str] = set()
    total = 0
    for person, row in compiled_files(session, definition, step, at=made):
        name = f"{person.area or person.name} - {row.filename}"
        stem, dot, ext = name.rpartition(".")
        n = 1
        while name.casefold() in used:
            n += 1
            name = f"{stem} ({n}).{ext}" if dot else f"{name} ({n})"
        used.add(name.casefold())
        if total + row.size > MAX_FILES_IN_MAIL:
            left.append(name)
            continue
        total += row.size
        attached.append(Attachment(name, row.content_type, row.data))
    return attached, left


def meeting_parts(
    session: Session,
    definition: ProcessDefinition,
    step: MeetingStep,
    action: Action,
    *,
    now: datetime,
    context: dict[str, Any],
) -> list[Attachment]:
    """Add the meeting's revision to `context`; a reminder's compilation, or the calendar entry
    (as the part mail programs show with accept and decline, and as a file)."""
    context["revision"] = action.revision or 1
    if action.kind != ActionKind.MEETING_REMINDER:
        return _meeting_ics(definition, step, action, now=now)
    compilation = (
        latest(session, definition.id, step.attach_compilation, "compilation")
        if step.attach_compilation
        else None
    )
    context["compilation_attached"] = compilation is not None
    audience = [p.id for p in definition.audience(step.id)]
    context["replies"] = count_replies(step_replies(session, definition.id, step.id), audience)
    return [] if compilation is None else [as_attachment(compilation)]


def circulation_parts(
    session: Session,
    definition: ProcessDefinition,
    step: CirculationStep,
    action: Action,
    *,
    now: datetime,
    context: dict[str, Any],
) -> list[Attachment]:
    """Add the draft's facts to `context`; the draft itself, except in a reminder."""
    document = stored_document(session, definition, step.id, "draft", action.version)
    context.update(
        version=document.version,
        note=document.note or None,
        filename=document.filename,
        deadline=step.deadline,
    )
    if action.kind != ActionKind.TREATMENT_REMINDER:
        return [as_attachment(document)]
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


#: The calendar file's name; the same calendar is the message's text/calendar part.
ICS_NAME = "invitasjon.ics"


def _meeting_ics(
    definition: ProcessDefinition, step: MeetingStep, action: Action, *, now: datetime
) -> list[Attachment]:
    """The meeting's calendar for one participant: a text/calendar part with its method (what
    Outlook, Gmail and Apple Mail show as an invitation to accept or decline, RFC 6047), and
    the same bytes as an .ics file (application/ics, as Google Calendar attaches its own, so
    that no client takes it for a second invitation)."""
    participant = definition.participant(action.participant_id)
    method: Literal["REQUEST", "CANCEL"] = (
        "CANCEL" if action.kind == ActionKind.MEETING_CANCEL else "REQUEST"
    )
    description = (
        environment()
        .get_template(f"_calendar.{participant.language}.txt")
        .render(process=definition.process, step=step)
    )
    data = meeting_ics(
        uid=meeting_uid(definition.id, step.id, participant.id, str(definition.sender.email)),
        sequence=(action.revision or 1) - 1,
        method=method,
        summary=step.title,
        description=description.strip(),
        location=meeting_location(step.place, step.video_link),
        url=step.video_link,
        start=local_datetime(step.date, step.start).astimezone(OSLO),
        end=local_datetime(step.date, step.end).astimezone(OSLO),
        organizer_name=f"{definition.sender.organisation}, {definition.sender.unit}",
        organizer_email=str(definition.sender.email),
        attendee_name=participant.name,
        attendee_email=str(participant.email),
        stamp=now,
        language=participant.language,
    )
    return [
        Attachment(
            ICS_NAME,
            'text/calendar; charset="utf-8"',
            data,
            (("method", method),),
            alternative=True,
        ),
        Attachment(ICS_NAME, "application/ics", data),
    ]
