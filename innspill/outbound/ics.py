"""Calendar invitations (iCalendar, RFC 5545/5546) for the meetings of a process.

They travel as iMIP (RFC 6047): a `text/calendar; method=REQUEST` (or CANCEL) part beside the
text and HTML of the letter, as Outlook and Google Calendar send theirs, so that mail programs
show the meeting with accept and decline (innspill.outbound.mime); the same calendar is also
attached as a file. Every text property is Norwegian (LANGUAGE=nb or nn): nothing in English.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Literal

from icalendar import Calendar, Event, vCalAddress, vText

from innspill import __version__
from innspill.process.workdays import OSLO

# The product that made the calendar (RFC 5545 3.7.3), never the process it is for.
PRODID = f"-//innspill//innspill {__version__}//NB"
TZID = "Europe/Oslo"

# Control characters are not allowed in iCalendar text; line breaks are (icalendar escapes
# them as \n), except in names, where they would end up in a parameter.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAKS = re.compile(r"[\r\n]+")


def meeting_uid(process_id: str, step_id: str, participant_id: str, sender_email: str) -> str:
    """The UID of a meeting's calendar entry for one attendee: `process.step.participant@domain`.

    One UID per meeting and attendee, so that an update or a cancel replaces the same entry;
    replies (iTIP REPLY) carry it back, which is how innspill.inbound finds the meeting. The
    ids are slugs (no dots), so the UID reads back unambiguously.
    """
    domain = sender_email.rsplit("@", 1)[1]
    return f"{process_id}.{step_id}.{participant_id}@{domain}"


def meeting_location(place: str, video_link: str | None) -> str:
    """LOCATION: the place, and the video link after it when there is one. Outlook shows only
    LOCATION (not URL) in the invitation, and Outlook, Google and Apple make a link there
    clickable, so "Videomøte" alone would hide the way in."""
    return f"{place} – {video_link}" if video_link else place


def _text(value: str) -> str:
    return _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))


def _line(value: str) -> str:
    return _LINE_BREAKS.sub(" ", _CONTROL.sub("", value)).strip()


def _address(name: str, email: str, **params: str) -> vCalAddress:
    email = _line(email)
    if not email or any(c in email for c in " <>\"'"):
        raise ValueError(f"not an e-mail address: {email!r}")
    address = vCalAddress(f"mailto:{email}")
    address.params["CN"] = _line(name)  # icalendar quotes and escapes it (RFC 6868)
    address.params.update(params)
    return address


def _oslo(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime, not {value!r}")
    # Written with TZID=Europe/Oslo whatever zone the caller used, so that every client shows
    # the local time the letters give.
    return value.astimezone(OSLO)


def _check(method: str, sequence: int, *, uid: str) -> None:
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(f"method must be REQUEST or CANCEL, not {method!r}")
    if sequence < 0:
        raise ValueError(f"sequence must be 0 or more, not {sequence}")
    if not _line(uid):
        raise ValueError("uid must not be empty")


def _event(*, uid: str, sequence: int, stamp: datetime, start: datetime, end: datetime) -> Event:
    """The event's identity and times: what clients match updates and cancellations by."""
    event = Event()
    event.add("uid", _line(uid))
    event.add("sequence", sequence)
    event.add("dtstamp", _oslo(stamp, "stamp").astimezone(UTC))
    event.add("dtstart", start)
    event.add("dtend", end)
    return event


def meeting_ics(
    *,
    uid: str,
    sequence: int,
    method: Literal["REQUEST", "CANCEL"],
    summary: str,
    description: str,
    location: str,
    url: str | None,
    start: datetime,
    end: datetime,
    organizer_name: str,
    organizer_email: str,
    attendee_name: str,
    attendee_email: str,
    stamp: datetime,
    language: str = "nb",
) -> bytes:
    """One meeting for one attendee: a REQUEST (new or changed) or a CANCEL, with its VTIMEZONE.

    Clients match updates and cancellations to the event by UID and keep the one with the
    highest SEQUENCE, so the caller keeps the UID for the meeting and raises SEQUENCE on each
    change (including the cancellation).
    """
    _check(method, sequence, uid=uid)
    local_start, local_end = _oslo(start, "start"), _oslo(end, "end")
    if local_end <= local_start:
        raise ValueError(f"end {end} is not after start {start}")

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    event = _event(uid=uid, sequence=sequence, stamp=stamp, start=local_start, end=local_end)
    words = {"LANGUAGE": language}  # the texts' language tag (RFC 5545 3.2.10): nb or nn
    event.add("summary", vText(_line(summary)), parameters=words)
    event.add("description", vText(_text(description)), parameters=words)
    event.add("location", vText(_line(location)), parameters=words)
    if url:
        event.add("url", _line(url))
    event.add("organizer", _address(organizer_name, organizer_email))
    attendee = _address(
        attendee_name, attendee_email, ROLE="REQ-PARTICIPANT", PARTSTAT="NEEDS-ACTION", RSVP="TRUE"
    )
    event.add("attendee", attendee)
    event.add("status", "CONFIRMED" if method == "REQUEST" else "CANCELLED")
    event.add("transp", "OPAQUE")
    calendar.add_component(event)

    # A VTIMEZONE for the years the meeting touches, computed from the tz database: small
    # (three observances a year) and exactly the rules the event is written in.
    calendar.add_missing_timezones(
        first_date=date(local_start.year, 1, 1), last_date=date(local_end.year + 1, 1, 1)
    )
    if calendar.get_missing_tzids():
        raise RuntimeError(f"no VTIMEZONE could be made for {calendar.get_missing_tzids()}")
    for timezone in calendar.walk("VTIMEZONE"):
        # icalendar notes the years it covers in English ("This timezone only works from
        # ..."); a participant's calendar may show it, and it says nothing they need.
        timezone.pop("COMMENT", None)
    ical: bytes = calendar.to_ical()  # icalendar's to_ical has no return annotation
    return ical
