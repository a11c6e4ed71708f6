"""Calendar replies in the intake: find the meeting by UID and the participant, record it.

A reply (iTIP REPLY) to one of our meeting invitations is recorded as that participant's
answer to the invitation (innspill.rsvp), never as an answer to a request step, and never held.
What cannot be tied to a meeting and a participant of it is held with the reason: an unknown
UID, an unknown attendee, a COUNTER (a proposed new time) or another method.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlmodel import Session, select

from innspill.inbound.itip import Attendee, CalendarPart
from innspill.inbound.parse import ParsedMail
from innspill.models import InboundMessage, InboundStatus, Process, TokenPurpose
from innspill.outbound.ics import meeting_uid
from innspill.process.definition import MeetingStep, ProcessDefinition
from innspill.process.loading import get_definition
from innspill.rsvp import PartStat, current_sequences, record_reply
from innspill.tokens import TOKEN_PATTERN, resolve

_PLUS = re.compile(r"\+([a-z2-7]{32})@")
_HOW = "see it with `innspill inbox list` and register attendance by hand if it matters"


def _meeting(session: Session, uid: str) -> tuple[ProcessDefinition, MeetingStep, str] | None:
    """The process, meeting step and invited participant whose UID this is (see meeting_uid)."""
    local, _, domain = uid.rpartition("@")
    pieces = local.split(".")
    if len(pieces) != 3 or not domain:
        return None
    process_id, step_id, participant_id = pieces
    if session.exec(select(Process.id).where(Process.id == process_id)).first() is None:
        return None
    definition = get_definition(session, process_id)
    try:
        step = definition.step(step_id)
        definition.participant(participant_id)
    except KeyError:
        return None
    sender = str(definition.sender.email)
    if not isinstance(step, MeetingStep) or uid != meeting_uid(
        process_id, step_id, participant_id, sender
    ):
        return None
    return definition, step, participant_id


def _by_token(
    session: Session, parsed: ParsedMail, attendee: Attendee, process_id: str, now: datetime
) -> str | None:
    """The participant a token of the reply names (in the ATTENDEE address, the recipient
    address or the subject), if it is a token of this process."""
    candidates = [m[1] for m in _PLUS.finditer(attendee.email)] + list(parsed.tokens)
    for token in candidates:
        if not TOKEN_PATTERN.fullmatch(token):
            continue
        access = resolve(session, token, purpose=TokenPurpose.REPLY, now=now)
        if access is not None and access.process_id == process_id:
            return access.participant_key
    return None


def _by_address(
    definition: ProcessDefinition, step: MeetingStep, addresses: list[str], invited: str
) -> tuple[str | None, str]:
    """The participant of the meeting with this address; when several share it (a common
    post box), the one the UID was made for. Else None and why."""
    audience = definition.audience(step.id)
    for address in addresses:
        matches = [p.id for p in audience if str(p.email).lower() == address]
        if len(matches) == 1:
            return matches[0], ""
        if invited in matches:
            return invited, ""
        if matches:
            return None, f"{address} is the address of {', '.join(matches)}: which one is unclear"
    return None, (
        f"the attendee ({', '.join(addresses) or 'no address'}) is not a participant "
        f"of the meeting '{step.id}'"
    )


def _attendee(reply: CalendarPart, sender: str) -> Attendee | None:
    """The attendee who answers: the only one, else the one with the sender's address."""
    answering = [a for a in reply.attendees if a.partstat != "NEEDS-ACTION"] or list(
        reply.attendees
    )
    if len(answering) == 1:
        return answering[0]
    return next((a for a in answering if a.email == sender.lower()), None)


def record_calendar(
    session: Session, row: InboundMessage, parsed: ParsedMail, *, now: datetime
) -> None:
    """Record a calendar reply for its participant, or leave `row` held with the reason."""
    reply = parsed.calendar
    assert reply is not None
    if reply.problem:
        row.reason = f"held: {reply.problem}; {_HOW}"
        return
    found = _meeting(session, reply.uid) if reply.uid else None
    if found is None:
        row.reason = (
            f"calendar {reply.method} for an event that is not one of our meetings "
            f"(UID {reply.uid or 'missing'}); {_HOW}"
        )
        return
    definition, step, invited = found
    row.process_id, row.step_key = definition.id, step.id
    if reply.method != "REPLY":
        what = "a proposal of another time" if reply.method == "COUNTER" else "not a reply"
        row.reason = (
            f"calendar {reply.method} ({what}) for the meeting '{step.id}' from {invited}: "
            "answer it yourself; innspill records only replies (accepted, declined, tentative)"
        )
        row.participant_key = invited
        return
    attendee = _attendee(reply, parsed.sender)
    if attendee is None:
        row.reason = (
            f"calendar reply for '{step.id}' with {len(reply.attendees)} attendees and none "
            f"from the sender {parsed.sender}: which one answers is unclear; {_HOW}"
        )
        return
    try:
        partstat = PartStat(attendee.partstat.lower())
    except ValueError:
        row.reason = (
            f"calendar reply for '{step.id}' with PARTSTAT={attendee.partstat} "
            f"(not accepted, declined or tentative); {_HOW}"
        )
        return
    who = _by_token(session, parsed, attendee, definition.id, now)
    why = ""
    if who is None:
        addresses = list(dict.fromkeys(a for a in (attendee.email, parsed.sender.lower()) if a))
        who, why = _by_address(definition, step, addresses, invited)
    if who is None or who not in {p.id for p in definition.audience(step.id)}:
        row.reason = f"calendar reply ({partstat.value}): {why or f'{who} is not invited'}; {_HOW}"
        return
    latest = record_reply(
        session,
        process_id=definition.id,
        step_id=step.id,
        participant_id=who,
        partstat=partstat,
        sequence=reply.sequence,
        stamped_at=reply.stamped_at or row.received_at,
        received_at=row.received_at,
        attendee=attendee.email,
        inbound_id=row.id,
        now=now,
    )
    row.participant_key, row.status = who, InboundStatus.CALENDAR
    row.reason = f"calendar reply: {partstat.value}" + (
        "" if latest else " (older than the reply already recorded, which stands)"
    )
    current = current_sequences(session, [definition.id]).get((definition.id, step.id, who), 0)
    if reply.sequence is not None and reply.sequence < current:
        row.reason += (
            f" to an earlier version of the invitation (SEQUENCE {reply.sequence}, now "
            f"{current}): kept, not counted"
        )
