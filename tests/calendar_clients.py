"""Calendar replies (iTIP REPLY) shaped as real clients send them, for the intake tests.

Outlook/Exchange: multipart/alternative with text, HTML and a base64 `text/calendar;
method=REPLY` part, an Exchange VTIMEZONE and X-MICROSOFT properties. Google Calendar:
multipart/mixed with the calendar part (8bit) inside multipart/alternative and the same
calendar again as an `invite.ics` attachment (application/ics). Apple Calendar: only the
calendar part, quoted-printable, with a quoted CN and an EMAIL parameter.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP

ORGANIZER = "byvekst-innspill@vegvesen.example"
SUMMARY = "Halvdagsmøte om innspillene"

_OUTLOOK_TZ = """BEGIN:VTIMEZONE
TZID:W. Europe Standard Time
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
"""

WORDS = {
    "outlook": {"ACCEPTED": "Godtatt", "DECLINED": "Avslått", "TENTATIVE": "Foreløpig"},
    "google": {"ACCEPTED": "Accepted", "DECLINED": "Declined", "TENTATIVE": "Tentatively Accepted"},
    "apple": {"ACCEPTED": "Godtatt", "DECLINED": "Avslått", "TENTATIVE": "Kanskje"},
}


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def reply_ics(
    client: str,
    *,
    uid: str,
    attendee: str,
    name: str,
    partstat: str,
    stamp: datetime,
    method: str = "REPLY",
    sequence: int = 0,
) -> str:
    """The VCALENDAR a client sends back, CRLF line ends."""
    word = WORDS[client].get(partstat, partstat)
    if client == "outlook":
        body = f"""BEGIN:VCALENDAR
METHOD:{method}
PRODID:Microsoft Exchange Server 2010
VERSION:2.0
{_OUTLOOK_TZ}BEGIN:VEVENT
ORGANIZER;CN="Statens vegvesen, Vegdirektoratet":mailto:{ORGANIZER}
ATTENDEE;PARTSTAT={partstat};CN={name}:mailto:{attendee}
COMMENT;LANGUAGE=nb-NO:\\n
SUMMARY;LANGUAGE=nb-NO:{word}: {SUMMARY}
DTSTART;TZID=W. Europe Standard Time:20200609T090000
DTEND;TZID=W. Europe Standard Time:20200609T123000
UID:{uid}
CLASS:PUBLIC
PRIORITY:5
DTSTAMP:{_stamp(stamp)}
TRANSP:OPAQUE
STATUS:CONFIRMED
SEQUENCE:{sequence}
LOCATION;LANGUAGE=nb-NO:Videomøte
X-MICROSOFT-CDO-APPT-SEQUENCE:{sequence}
X-MICROSOFT-CDO-OWNERAPPTID:0
X-MICROSOFT-CDO-BUSYSTATUS:BUSY
X-MICROSOFT-CDO-INTENDEDSTATUS:BUSY
X-MICROSOFT-CDO-ALLDAYEVENT:FALSE
X-MICROSOFT-CDO-IMPORTANCE:1
X-MICROSOFT-CDO-INSTTYPE:0
X-MICROSOFT-DISALLOW-COUNTER:FALSE
END:VEVENT
END:VCALENDAR
"""
    elif client == "google":
        body = f"""BEGIN:VCALENDAR
PRODID:-//Google Inc//Google Calendar 70.9054//EN
VERSION:2.0
CALSCALE:GREGORIAN
METHOD:{method}
BEGIN:VEVENT
DTSTART:20200609T070000Z
DTEND:20200609T103000Z
DTSTAMP:{_stamp(stamp)}
ORGANIZER;CN="Statens vegvesen, Vegdirektoratet":mailto:{ORGANIZER}
UID:{uid}
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT={partstat};CN={name};
 X-NUM-GUESTS=0:mailto:{attendee}
CREATED:20200525T070000Z
DESCRIPTION:1. Velkommen og gjennomgang av sammenstillingen
LAST-MODIFIED:{_stamp(stamp)}
LOCATION:Videomøte
SEQUENCE:{sequence}
STATUS:CONFIRMED
SUMMARY:{SUMMARY}
TRANSP:OPAQUE
END:VEVENT
END:VCALENDAR
"""
    else:
        body = f"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Apple Inc.//Mac OS X 10.15.4//EN
METHOD:{method}
CALSCALE:GREGORIAN
BEGIN:VEVENT
ATTENDEE;CN="{name}";CUTYPE=INDIVIDUAL;EMAIL="{attendee}";PARTSTAT={partstat}:
 mailto:{attendee}
DTEND;TZID=Europe/Oslo:20200609T123000
TRANSP:OPAQUE
ORGANIZER;CN="Statens vegvesen, Vegdirektoratet":mailto:{ORGANIZER}
UID:{uid}
DTSTAMP:{_stamp(stamp)}
LOCATION:Videomøte
SEQUENCE:{sequence}
SUMMARY:{SUMMARY}
DTSTART;TZID=Europe/Oslo:20200609T090000
REQUEST-STATUS:2.0;Success
END:VEVENT
END:VCALENDAR
"""
    return body.replace("\n", "\r\n")


def reply_mail(
    client: str,
    *,
    uid: str,
    attendee: str,
    name: str,
    partstat: str,
    stamp: datetime,
    sender: str | None = None,
    to: str = ORGANIZER,
    subject: str | None = None,
    method: str = "REPLY",
    sequence: int = 0,
    ics: str | None = None,
) -> bytes:
    """The whole message as `client` sends it (From the attendee unless `sender` is given)."""
    calendar = ics or reply_ics(
        client,
        uid=uid,
        attendee=attendee,
        name=name,
        partstat=partstat,
        stamp=stamp,
        method=method,
        sequence=sequence,
    )
    word = WORDS[client].get(partstat, partstat)
    msg = EmailMessage()
    msg["From"] = f"{name} <{sender or attendee}>"
    msg["To"] = to
    msg["Date"] = stamp.strftime("%a, %d %b %Y %H:%M:%S +0000")
    msg["Message-ID"] = f"<{client}.{partstat}.{_stamp(stamp)}@{attendee.split('@')[1]}>"
    if client == "outlook":
        msg["Subject"] = subject or f"{word}: {SUMMARY}"
        msg["Thread-Topic"] = SUMMARY
        msg["Content-class"] = "urn:content-classes:calendarmessage"
        msg.set_content(f"{name} har svart {word.lower()}.\n", cte="base64")
        msg.add_alternative(f"<p>{name} har svart {word.lower()}.</p>", subtype="html")
        msg.add_alternative(
            calendar.encode(),
            maintype="text",
            subtype="calendar",
            cte="base64",
            params={"method": method, "charset": "utf-8"},
        )
    elif client == "google":
        msg["Subject"] = subject or (
            f"{word}: {SUMMARY} @ Tue Jun 9, 2020 9am - 12:30pm (CEST) ({attendee})"
        )
        alternative = EmailMessage()
        alternative.set_content(f"{name} has {word.lower()} this invitation.\n")
        alternative.add_alternative(f"<p>{name} has {word.lower()} this invitation.</p>", "html")
        alternative.add_alternative(
            calendar, subtype="calendar", cte="8bit", params={"method": method}
        )
        msg["MIME-Version"] = "1.0"
        msg.make_mixed()
        msg.attach(alternative)
        msg.add_attachment(
            calendar.encode(), maintype="application", subtype="ics", filename="invite.ics"
        )
    else:
        msg["Subject"] = subject or f"{word}: {SUMMARY}"
        msg.set_content(calendar, subtype="calendar", cte="quoted-printable")
        msg.set_param("method", method)
    return msg.as_bytes(policy=SMTP)
