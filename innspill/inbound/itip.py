"""Calendar parts of incoming mail (iTIP, RFC 5546): what an attendee answered, read bounded.

Outlook sends its reply as a `text/calendar; method=REPLY` part beside the text, Google also
as an `invite.ics` attachment, Apple Calendar often as the only part. Pure: no database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import Message

from icalendar import Calendar

from innspill.inbound.mimewalk import param_text, payload_bytes

#: A reply is a few KB (Outlook adds a VTIMEZONE); larger calendar parts are not read.
MAX_CALENDAR_BYTES = 256 * 1024
#: At most this many calendar parts of a message are looked at, and events of a part read.
MAX_CALENDAR_PARTS = 4
MAX_EVENTS = 20
#: The methods an attendee sends back to the organizer (RFC 5546 1.4); a message carrying
#: one of them is a calendar message, never an answer. Organizer methods (REQUEST, CANCEL,
#: PUBLISH, ADD) in a participant's mail are left to the ordinary classification.
ATTENDEE_METHODS = ("REPLY", "COUNTER", "REFRESH", "DECLINECOUNTER")


@dataclass(frozen=True)
class Attendee:
    email: str  # lower case, without mailto:
    partstat: str  # upper case as written (ACCEPTED, DECLINED, TENTATIVE, NEEDS-ACTION, ...)


@dataclass(frozen=True)
class CalendarPart:
    """The calendar message of a mail: its method and its first event, or why it was not read."""

    method: str
    uid: str = ""
    sequence: int | None = None  # None when the reply does not say
    stamped_at: datetime | None = None  # DTSTAMP, in UTC
    attendees: tuple[Attendee, ...] = ()
    problem: str = ""  # set when the part could not be read: then it is held with this


def _is_calendar(part: Message) -> bool:
    ctype = part.get_content_type()
    if ctype in ("text/calendar", "application/ics"):
        return True
    name = param_text(part, "filename", header_name="content-disposition") or param_text(
        part, "name"
    )
    return name.lower().endswith(".ics")


def _address(value: object) -> str:
    text = str(value).strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    return text.strip().lower()


def _attendees(event: object) -> tuple[Attendee, ...]:
    found = event.get("attendee") if hasattr(event, "get") else None
    values = found if isinstance(found, list) else [found] if found is not None else []
    out = []
    for value in values[:MAX_EVENTS]:
        params = getattr(value, "params", {})
        out.append(Attendee(_address(value), str(params.get("PARTSTAT", "NEEDS-ACTION")).upper()))
    return tuple(out)


def _utc(value: object) -> datetime | None:
    if isinstance(value, datetime):
        # A floating DTSTAMP breaks RFC 5545 (it is UTC); taken as UTC.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return None


def _read(data: bytes, content_method: str) -> CalendarPart | None:
    """The part's method and first event; None when it carries no attendee method."""
    try:
        calendar = Calendar.from_ical(data)
    except Exception as exc:  # icalendar raises ValueError and others on broken input
        method = content_method.upper()
        if method in ATTENDEE_METHODS:
            return CalendarPart(method, problem=f"calendar part not readable ({exc})"[:300])
        return None
    method = str(calendar.get("method") or content_method).strip().upper()
    if method not in ATTENDEE_METHODS:
        return None
    events = [c for c in calendar.subcomponents if c.name == "VEVENT"][:MAX_EVENTS]
    if not events:
        return CalendarPart(method, problem=f"calendar {method} without an event")
    event = events[0]
    stamp = event.get("dtstamp")
    try:
        sequence = int(str(event["sequence"])) if "sequence" in event else None
    except (TypeError, ValueError):
        sequence = None
    return CalendarPart(
        method,
        uid=str(event.get("uid", "")).strip()[:300],
        sequence=sequence,
        stamped_at=_utc(stamp.dt) if stamp is not None else None,
        attendees=_attendees(event),
        problem="" if len(events) == 1 else f"calendar {method} with {len(events)} events",
    )


def calendar_part(leaves: list[Message]) -> tuple[CalendarPart | None, list[str]]:
    """The message's attendee calendar part (REPLY, COUNTER, ...) if any, and notes on the
    calendar parts that were not read (too large)."""
    notes: list[str] = []
    seen = 0
    for part in leaves:
        if not _is_calendar(part):
            continue
        seen += 1
        if seen > MAX_CALENDAR_PARTS:
            notes.append(f"more than {MAX_CALENDAR_PARTS} calendar parts; the rest was not read")
            break
        data = payload_bytes(part)
        method = param_text(part, "method").upper()
        if len(data) > MAX_CALENDAR_BYTES:
            why = f"calendar part of {len(data):,} bytes not read (at most {MAX_CALENDAR_BYTES:,})"
            if method in ATTENDEE_METHODS:
                return CalendarPart(method, problem=why), notes
            notes.append(why)
            continue
        found = _read(data, method)
        if found is not None:
            return found, notes
    return None, notes
