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

from sqlmodel import Session, col, select

from innspill.events import record_event
from innspill.models import CalendarReply


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


def latest_replies(
    session: Session, process_ids: list[str]
) -> dict[str, dict[str, dict[str, str]]]:
    """Process -> meeting step -> participant -> their latest PartStat value, in one query."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    if not process_ids:
        return out
    rows = session.exec(
        select(
            CalendarReply.process_id,
            CalendarReply.step_key,
            CalendarReply.participant_key,
            CalendarReply.partstat,
        ).where(col(CalendarReply.process_id).in_(process_ids))
    ).all()
    for pid, step, who, partstat in rows:
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
    detail = f"{partstat.value} (DTSTAMP {stamped_at.isoformat()}, {attendee})"
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
    row.attendee, row.inbound_id = attendee[:300], inbound_id
    session.add(row)
    session.flush()
    return True
