"""Incoming mail to answers: match by token, keep everything, hold what is not an answer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from innspill.errors import InnspillError
from innspill.events import record_event
from innspill.inbound.answers import MAX_FILES, attach_file, register_answer
from innspill.inbound.assignment import Preview, check, preview
from innspill.inbound.calendar import record_calendar
from innspill.inbound.parse import InboundKind, ParsedMail, parse_mail
from innspill.inbound.placing import place, without_part_lines
from innspill.models import (
    AccessToken,
    InboundMessage,
    InboundStatus,
    OutboxMessage,
    Participant,
    TokenPurpose,
)
from innspill.process.deadlines import closes_on, deadlines_in
from innspill.process.definition import ProcessDefinition, RequestStep, Theme
from innspill.process.loading import get_definition
from innspill.process.texts import variants
from innspill.process.workdays import OSLO, end_of_day
from innspill.tokens import resolve

#: Where an answer's text goes when it is not written theme by theme.
GENERAL = ""


@dataclass(frozen=True)
class ImportResult:
    """What became of one message."""

    message: InboundMessage
    new: bool  # False: this message had been imported before (nothing was done again)


def split_by_themes(text: str, themes: list[Theme]) -> dict[str, str]:
    """Sections under lines naming a theme (`Organisering`, `2. Organisering:`, `# ...`).

    Text before the first such line, or all of it when there is none, is kept as general text.
    """
    # A heading may be in any language the file gives the theme in: a nynorsk participant
    # writes the nynorsk title they were sent.
    titles = {title.casefold(): t.id for t in themes for title in variants(t.title)}
    heading = re.compile(r"^\s*(?:#+\s*|\d+[.)]\s*)?(.+?)\s*:?\s*$")
    sections: dict[str, list[str]] = {}
    current = GENERAL
    for line in text.splitlines():
        match = heading.match(line)
        theme = titles.get(match[1].casefold()) if match else None
        if theme is not None:
            current = theme
            sections.setdefault(current, [])
            continue
        sections.setdefault(current, []).append(line)
    out = {key: "\n".join(lines).strip() for key, lines in sections.items()}
    return {key: value for key, value in out.items() if value}


def import_mail(
    session: Session,
    raw: bytes,
    *,
    source: str,
    uid: str,
    received_at: datetime | None,
    now: datetime,
) -> ImportResult:
    """Import one message once: an answer, a bounce, a calendar reply (innspill.inbound.calendar),
    or held with the reason. Never raises
    for the message's content; the raw bytes are kept whatever happens."""
    known = session.exec(
        select(InboundMessage).where(
            InboundMessage.source == source, InboundMessage.source_uid == uid
        )
    ).first()
    if known is not None:
        return ImportResult(known, new=False)
    parsed = parse_mail(raw)
    row = InboundMessage(
        source=source,
        source_uid=uid,
        message_id=parsed.message_id,
        received_at=received_at or now,
        sender=parsed.sender[:300],
        subject=parsed.subject[:500],
        raw=raw,
        status=InboundStatus.HELD,
        kind=parsed.kind.value,
        reason=parsed.reason,
    )
    session.add(row)
    if parsed.kind == InboundKind.BOUNCE:
        _bounce(session, row, parsed, now=now)
    elif parsed.kind == InboundKind.ANSWER:
        _answer(session, row, parsed, now=now)
    elif parsed.kind == InboundKind.CALENDAR:
        session.flush()  # the reply refers to the message by its id
        record_calendar(session, row, parsed, now=now)
    session.flush()
    return ImportResult(row, new=True)


def _bounce(session: Session, row: InboundMessage, parsed: ParsedMail, *, now: datetime) -> None:
    failing = [a.lower() for a in parsed.bounced_recipients]
    candidates = (
        session.exec(select(Participant).where(col(Participant.email).in_(failing))).all()
        if failing
        else []
    )
    # Anyone can send a fake delivery report: believe it only for a participant whose own
    # message (by our Message-ID) it quotes.
    hits = [p for p in candidates if _quotes_our_message(session, p, row.raw)]
    if candidates and not hits:
        row.reason = (
            f"a delivery report for {', '.join(failing)} that quotes none of our messages "
            "to them: not believed"
        )
        return  # held for a person
    for participant in hits:
        participant.address_failing = True
        session.add(participant)
        record_event(
            session,
            participant.process_id,
            now,
            "address_failing",
            participant=participant.key,
            detail=f"bounce: {parsed.reason}",
        )
    row.status = InboundStatus.BOUNCE
    row.reason = f"delivery failed for {', '.join(failing)}" if failing else parsed.reason
    if hits:
        row.process_id, row.participant_key = hits[0].process_id, hits[0].key


def _quotes_our_message(session: Session, participant: Participant, raw: bytes) -> bool:
    ids = session.exec(
        select(OutboxMessage.message_id).where(
            OutboxMessage.process_id == participant.process_id,
            OutboxMessage.participant_key == participant.key,
        )
    ).all()
    return any(message_id.encode() in raw for message_id in ids)


def _answer(session: Session, row: InboundMessage, parsed: ParsedMail, *, now: datetime) -> None:
    access = _reply_token(session, parsed, now=now)
    if access is None:
        row.reason = "no valid token: unknown, expired, or for a process that has ended"
        return
    definition = get_definition(session, access.process_id)
    row.process_id, row.participant_key = access.process_id, access.participant_key
    if not parsed.text.strip() and not parsed.files:
        row.step_key = access.step_key
        row.reason = _empty_reason(parsed)  # what the parser could not read says more
        return
    placed = place(
        definition,
        participant_id=access.participant_key,
        step_id=access.step_key,
        all_parts=access.purpose == TokenPurpose.PARTS,
        text=parsed.text,
    )
    row.step_key = placed.step_id
    if placed.step_id is None:
        row.reason = placed.reason
        return
    accept(session, row, parsed, definition, by="e-post", now=now, text=placed.text)


def _reply_token(session: Session, parsed: ParsedMail, *, now: datetime) -> AccessToken | None:
    """The first token of the message that is a reply address: of a step, or of every part
    of an invitation in several parts."""
    for token in parsed.tokens:
        for purpose in (TokenPurpose.REPLY, TokenPurpose.PARTS):
            access = resolve(session, token, purpose=purpose, now=now)
            if access is not None:
                return access
    return None


def accept(
    session: Session,
    row: InboundMessage,
    parsed: ParsedMail,
    definition: ProcessDefinition,
    *,
    by: str,
    now: datetime,
    assigned: bool = False,
    text: str | None = None,
) -> None:
    """Make the message an answer of row.participant_key to row.step_key, with its files
    (`text`: the reply's text as placed, without the line naming its part).

    `assigned`: a person decided it (innspill inbox assign, after the checks in
    innspill.inbound.assignment): it becomes an answer now, even after the step closed.
    """
    step = definition.step(row.step_key or "")
    if not isinstance(step, RequestStep):
        row.reason = f"step '{row.step_key}' takes no answers"
        return
    participant = row.participant_key or ""
    closes = deadlines_in(session, definition).closes.get((step.id, participant)) or closes_on(
        definition, step, step.deadline
    )
    # The same contract as the form: late answers are taken until the step closes. It counts
    # when the mail arrived (a fetch after an outage is not its fault); `now` when that is
    # earlier, as when a run acts as if at an earlier time (--at).
    if not assigned and min(row.received_at, now) >= end_of_day(closes):
        row.reason = (
            f"received after the step closed ({closes.isoformat()}); if it should count, "
            "register it by hand: innspill answer add"
        )
        return
    if row.received_at.astimezone(OSLO).date() < step.opens:
        row.reason = (
            f"received before the step opened ({step.opens}): it cannot answer a request that "
            "had not been made"
        )
        return
    texts = split_by_themes(parsed.text if text is None else text, definition.themes_of(step))
    if not texts and not parsed.files:
        row.reason = _empty_reason(parsed)
        return
    answer = register_answer(
        session,
        definition,
        step_id=step.id,
        participant_id=row.participant_key or "",
        texts=texts or {GENERAL: "(se vedlegg)"},
        at=row.received_at,
        channel="email",
        registered_by=by,
        now=max(now, row.received_at),  # journaled when taken in (not before it came)
        registered_at=now if assigned else row.received_at,
        clean=False,  # reply_text cleaned it already
    )
    refused = list(parsed.rejected_files)
    for index, item in enumerate(parsed.files):
        if index >= MAX_FILES:
            refused.append(f"{item.filename}: more than {MAX_FILES} files")
            continue
        try:
            with session.begin_nested():
                attach_file(session, answer, filename=item.filename, data=item.data)
        except InnspillError as exc:
            refused.append(str(exc))
    session.flush()
    row.status, row.answer_id = InboundStatus.ACCEPTED, answer.id
    row.reason = "; ".join(f"file refused: {r}" for r in refused)


def _empty_reason(parsed: ParsedMail) -> str:
    """Why a reply with nothing to keep is held: in the parser's own words (parts cut, too
    deep, files refused) when it has any, not only that nothing was found."""
    why = [*parsed.notes, *(f"file refused: {r}" for r in parsed.rejected_files)]
    return "; ".join(why) or "the reply has no text of its own and no files"


def assign(
    session: Session,
    message_id: int,
    *,
    process_id: str,
    step_id: str,
    participant_id: str,
    by: str,
    now: datetime,
    confirm: bool = False,
) -> InboundMessage:
    """An administrator's decision: this held message is that participant's answer.

    An auto-reply, a delivery report or a message that came after the step closed needs
    `confirm` (innspill.inbound.assignment says why, in bokmål); the event log records what
    the assignment did to the participant's answer.
    """
    row = session.get(InboundMessage, message_id)
    if row is None:
        raise InnspillError(f"no incoming message {message_id}")
    if row.status != InboundStatus.HELD:
        raise InnspillError(f"message {message_id} is {row.status}, not held")
    if row.kind == InboundKind.CALENDAR:
        # Its text is the client's "Accepted: ..." line: never an answer.
        raise InnspillError(
            f"message {message_id} is a calendar reply, not an answer: it cannot be assigned "
            "to a request step; record attendance after the meeting, or dismiss it"
        )
    definition = get_definition(session, process_id)
    if participant_id not in {p.id for p in definition.audience(step_id)}:
        raise InnspillError(f"'{participant_id}' is not asked for input in step '{step_id}'")
    shown = preview(
        session, row, definition, step_id=step_id, participant_id=participant_id, now=now
    )
    check(shown, confirm=confirm)
    row.process_id, row.step_key, row.participant_key = process_id, step_id, participant_id
    parsed = parse_mail(row.raw)
    text = without_part_lines(
        definition, participant_id=participant_id, step_id=step_id, text=parsed.text
    )
    accept(session, row, parsed, definition, by=by, now=now, assigned=True, text=text)
    if _status(row) != InboundStatus.ACCEPTED:
        raise InnspillError(f"message {message_id} could not be made an answer: {row.reason}")
    row.status = InboundStatus.ASSIGNED
    record_event(
        session,
        process_id,
        now,
        "inbound_assigned",
        step=step_id,
        participant=participant_id,
        detail=f"message {message_id}" + _what_it_did(shown, confirmed=confirm),
        by=by,
    )
    return row


def _what_it_did(shown: Preview, *, confirmed: bool) -> str:
    """The assignment's effect on the participant's answer, for the event log."""
    parts = []
    if shown.current is not None:
        parts.append(
            f"replaces version {shown.current.version}"
            if shown.becomes_latest
            else f"received before version {shown.current.version}, which still counts"
        )
    if shown.registered_after_close:
        parts.append(f"after the step closed ({shown.closes.isoformat()})")
    if confirmed and shown.needs_confirmation:
        parts.append(f"confirmed ({shown.kind})")
    return f": {'; '.join(parts)}" if parts else ""


def dismiss(session: Session, message_id: int, *, by: str, now: datetime) -> InboundMessage:
    """Set a held message aside (it is kept)."""
    row = session.get(InboundMessage, message_id)
    if row is None or row.status != InboundStatus.HELD:
        raise InnspillError(f"no held incoming message {message_id}")
    row.status = InboundStatus.DISMISSED
    row.reason = f"{row.reason} (dismissed by {by})".strip()
    session.add(row)
    if row.process_id:  # tied to a process (a token or a late answer): its log says so
        record_event(
            session,
            row.process_id,
            now,
            "inbound_dismissed",
            step=row.step_key,
            participant=row.participant_key,
            detail=f"message {message_id}",
            by=by,
        )
    return row


def _status(row: InboundMessage) -> InboundStatus:
    # Read through a call: accept() changes row.status, which a type checker would otherwise
    # still take for the HELD it checked before.
    return InboundStatus(row.status)
