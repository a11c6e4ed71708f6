"""Calendar replies to meeting invitations: record the latest per participant, and count them.

The one place that writes CalendarReply and that counts replies: the status model (`innspill
status`, the dashboard) and the meeting reminder read the counts from `count_replies`. A reply
says what a participant intends; whether they came (Attendance) is registered by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from innspill.events import record_event
from innspill.models import CalendarReply, OutboxMessage

#: The outbox kinds that carry a new version of the meeting's calendar entry.
INVITATION_KINDS = ("meeting_invitation", "meeting_cancel")


class PartStat(StrEnum):
    """An attendee's answer (iCalendar PARTSTAT) that innspill records."""

    ACCEPTED = "accepted"
    DECLINED = "declined"
    TENTATIVE = "tentative"


@dataclass(frozen=True)
class ReplyCounts:
    """How the audience of a meeting has replied (no_reply: no calendar reply yet)."""

    accepted: int = 0
    declined: int = 0
    tentative: int = 0
    no_reply: int = 0

    @property
    def replied(self) -> int:
        return self.accepted + self.declined + self.tentative


def count_replies(replies: Mapping[str, str], audience: Iterable[str]) -> ReplyCounts:
    """The counts over `audience` (participant ids) of their latest replies."""
    counts = {"accepted": 0, "declined": 0, "tentative": 0, "no_reply": 0}
    for who in audience:
        counts[replies.get(who) or "no_reply"] += 1
    return ReplyCounts(**counts)


def current_sequences(session: Session, process_ids: list[str]) -> dict[tuple[str, str, str], int]:
    """(process, step, participant) -> the SEQUENCE of the latest invitation (or cancel) sent.

    The planner numbers them 1, 2, ... and compose writes SEQUENCE = revision - 1, so it is the
    number of such messages less one.
    """
    rows = session.execute(
        sa_select(
            col(OutboxMessage.process_id),
            col(OutboxMessage.step_key),
            col(OutboxMessage.participant_key),
            func.count(),
        )
        .where(
            col(OutboxMessage.process_id).in_(process_ids),
            col(OutboxMessage.kind).in_(INVITATION_KINDS),
        )
        .group_by(
            col(OutboxMessage.process_id),
            col(OutboxMessage.step_key),
            col(OutboxMessage.participant_key),
        )
    ).all()
    return {(pid, step, who): n - 1 for pid, step, who, n in rows}


def latest_replies(
    session: Session, process_ids: list[str]
) -> dict[str, dict[str, dict[str, str]]]:
    """Process -> meeting step -> participant -> their latest PartStat value, in two queries.

    A reply to an earlier version of the invitation than the latest one sent to the participant
    (the meeting moved since) is not current: they have not answered the new time yet.
    """
    out: dict[str, dict[str, dict[str, str]]] = {}
    if not process_ids:
        return out
    rows = session.execute(
        sa_select(
            col(CalendarReply.process_id),
            col(CalendarReply.step_key),
            col(CalendarReply.participant_key),
            col(CalendarReply.partstat),
            col(CalendarReply.sequence),
        ).where(col(CalendarReply.process_id).in_(process_ids))
    ).all()
    current = current_sequences(session, process_ids) if rows else {}
    for pid, step, who, partstat, sequence in rows:
        if sequence is not None and sequence < current.get((pid, step, who), 0):
            continue
        out.setdefault(pid, {}).setdefault(step, {})[who] = partstat
    return out


def step_replies(session: Session, process_id: str, step_id: str) -> dict[str, str]:
    """Participant -> latest PartStat value, for one meeting step."""
    return latest_replies(session, [process_id]).get(process_id, {}).get(step_id, {})


def record_reply(
    session: Session,
    *,
    process_id: str,
    step_id: str,
    participant_id: str,
    partstat: PartStat,
    sequence: int | None,
    stamped_at: datetime,
    received_at: datetime,
    attendee: str,
    inbound_id: int | None,
    now: datetime,
) -> bool:
    """Record one reply; True if it is now the participant's latest, False if a later one was
    recorded before (a reply that arrives out of order). Both ways it is in the event log."""
    row = session.exec(
        select(CalendarReply).where(
            CalendarReply.process_id == process_id,
            CalendarReply.step_key == step_id,
            CalendarReply.participant_key == participant_id,
        )
    ).first()
    newer = row is None or (stamped_at, received_at) >= (row.stamped_at, row.received_at)
    detail = f"{partstat.value} (DTSTAMP {stamped_at.isoformat()}, SEQUENCE {sequence}, {attendee})"
    if not newer:
        detail += "; older than the reply already recorded, which stands"
    record_event(
        session,
        process_id,
        now,
        "calendar_reply",
        step=step_id,
        participant=participant_id,
        detail=detail,
    )
    if not newer:
        return False
    if row is None:
        row = CalendarReply(
            process_id=process_id,
            step_key=step_id,
            participant_key=participant_id,
            partstat=partstat.value,
            stamped_at=stamped_at,
            received_at=received_at,
        )
    row.partstat, row.stamped_at, row.received_at = partstat.value, stamped_at, received_at
    row.sequence, row.attendee, row.inbound_id = sequence, attendee[:300], inbound_id
    session.add(row)
    session.flush()
    return True
