"""Calendar invitations: parsed back with icalendar, including the instants across DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from typing import Any

import pytest
from icalendar import Calendar, Event

from innspill.outbound.ics import meeting_ics, meeting_location
from innspill.process.workdays import OSLO


def invitation(**changes: Any) -> bytes:
    args: dict[str, Any] = {
        "uid": "halvdagsmote.byvekstavtaler-sekretariat-2020@innspill.example",
        "sequence": 0,
        "method": "REQUEST",
        "summary": "Halvdagsmøte om innspillene",
        "description": "Dagsorden:\n1. Velkommen; gjennomgang, av sammenstillingen",
        "location": "Videomøte",
        "url": "https://mote.vegvesen.example/halvdagsmote",
        "start": datetime(2020, 6, 5, 9, 0, tzinfo=OSLO),
        "end": datetime(2020, 6, 5, 12, 30, tzinfo=OSLO),
        "organizer_name": "Kari Nordmann",
        "organizer_email": "byvekst-innspill@vegvesen.example",
        "attendee_name": "Sekretariatet for byvekstavtalen i Tromsø",
        "attendee_email": "sekretariat@tromso.byvekst.example",
        "stamp": datetime(2020, 5, 20, 10, 15, tzinfo=OSLO),
    }
    args.update(changes)
    return meeting_ics(**args)


def parse(data: bytes) -> tuple[Calendar, Event]:
    calendar = Calendar.from_ical(data)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return calendar, events[0]


def test_request_fields() -> None:
    data = invitation()
    assert data.startswith(b"BEGIN:VCALENDAR\r\n")
    assert all(line.endswith(b"\r") for line in data.split(b"\n")[:-1])
    calendar, event = parse(data)
    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"]) == f"-//innspill//innspill {version('innspill')}//NB"
    assert str(event["UID"]) == "halvdagsmote.byvekstavtaler-sekretariat-2020@innspill.example"
    assert event["SEQUENCE"] == 0
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["SUMMARY"]) == "Halvdagsmøte om innspillene"
    assert str(event["DESCRIPTION"]) == "Dagsorden:\n1. Velkommen; gjennomgang, av sammenstillingen"
    assert str(event["LOCATION"]) == "Videomøte"
    assert str(event["URL"]) == "https://mote.vegvesen.example/halvdagsmote"

    assert event["DTSTART"].params["TZID"] == "Europe/Oslo"
    assert event["DTEND"].params["TZID"] == "Europe/Oslo"
    stamp = event.decoded("DTSTAMP")
    assert stamp.utcoffset() == timedelta(0)
    assert stamp == datetime(2020, 5, 20, 8, 15, tzinfo=UTC)
    assert b"DTSTAMP:20200520T081500Z" in data

    organizer = event["ORGANIZER"]
    assert str(organizer) == "mailto:byvekst-innspill@vegvesen.example"
    assert organizer.params["CN"] == "Kari Nordmann"
    attendee = event["ATTENDEE"]
    assert str(attendee) == "mailto:sekretariat@tromso.byvekst.example"
    assert attendee.params["CN"] == "Sekretariatet for byvekstavtalen i Tromsø"
    assert attendee.params["ROLE"] == "REQ-PARTICIPANT"
    assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"
    assert attendee.params["RSVP"] == "TRUE"


def test_cancel_keeps_uid_and_raises_sequence() -> None:
    request = parse(invitation())[1]
    calendar, event = parse(invitation(method="CANCEL", sequence=1))
    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(event["STATUS"]) == "CANCELLED"
    assert str(event["UID"]) == str(request["UID"])
    assert event["SEQUENCE"] == 1


@pytest.mark.parametrize(
    ("start", "utc_hour"),
    [
        (datetime(2020, 3, 27, 9, 0, tzinfo=OSLO), 8),  # before DST begins on 29 March: +01:00
        (datetime(2020, 6, 5, 9, 0, tzinfo=OSLO), 7),  # summer time: +02:00
        (datetime(2020, 10, 26, 9, 0, tzinfo=OSLO), 8),  # the day after DST ends
    ],
)
def test_utc_instant_across_dst(start: datetime, utc_hour: int) -> None:
    data = invitation(start=start, end=start + timedelta(hours=3))
    calendar, event = parse(data)
    decoded = event.decoded("DTSTART")
    assert decoded.astimezone(UTC) == start.replace(hour=utc_hour, tzinfo=UTC)
    assert f"DTSTART;TZID=Europe/Oslo:{start:%Y%m%d}T090000".encode() in data

    # The VTIMEZONE alone (not the client's own tz database) gives the same offset.
    (timezone,) = calendar.walk("VTIMEZONE")
    assert str(timezone["TZID"]) == "Europe/Oslo"
    own = timezone.to_tz(lookup_tzid=False)
    local = start.replace(tzinfo=own)
    assert local.astimezone(UTC).hour == utc_hour


def test_start_in_another_zone_is_written_in_oslo_time() -> None:
    start = datetime(2020, 6, 5, 7, 0, tzinfo=UTC)
    data = invitation(start=start, end=start + timedelta(hours=1))
    assert b"DTSTART;TZID=Europe/Oslo:20200605T090000" in data
    assert parse(data)[1].decoded("DTSTART").astimezone(UTC) == start


def test_no_url_no_url_line() -> None:
    _, event = parse(invitation(url=None))
    assert "URL" not in event


def test_names_with_quotes_and_line_breaks_stay_in_their_parameter() -> None:
    _, event = parse(invitation(attendee_name='Sekretariatet "Nord", Jæren;\r\nBCC:x'))
    attendee = event["ATTENDEE"]
    assert str(attendee) == "mailto:sekretariat@tromso.byvekst.example"
    assert "\n" not in attendee.params["CN"]
    assert "BCC" not in event


@pytest.mark.parametrize(
    "changes",
    [
        {"start": datetime(2020, 6, 5, 9, 0)},  # naive
        {"end": datetime(2020, 6, 5, 8, 0, tzinfo=OSLO)},  # before start
        {"method": "PUBLISH"},
        {"attendee_email": "a@b.example> <c@d.example"},
    ],
)
def test_rejects_bad_input(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        invitation(**changes)


def test_nothing_in_english_and_the_texts_say_their_language() -> None:
    data = invitation(language="nn")
    assert b"COMMENT" not in data  # icalendar's "This timezone only works from ..." is dropped
    calendar, event = parse(data)
    assert [c.name for c in calendar.subcomponents] == ["VTIMEZONE", "VEVENT"]
    for name in ("SUMMARY", "DESCRIPTION", "LOCATION"):
        assert event[name].params["LANGUAGE"] == "nn", name
    assert b"SUMMARY;LANGUAGE=nn:Halvdagsm" in data


def test_location_holds_the_place_and_the_video_link() -> None:
    link = "https://mote.vegvesen.example/halvdagsmote"
    assert meeting_location("Videomøte", link) == f"Videomøte – {link}"
    assert meeting_location("Vegdirektoratet, møterom 1", None) == "Vegdirektoratet, møterom 1"
    _, event = parse(invitation(location=meeting_location("Videomøte", link)))
    assert str(event["LOCATION"]) == f"Videomøte – {link}"


def test_the_calendar_entry_of_a_nynorsk_participant_is_in_nynorsk() -> None:
    from innspill.outbound.step_parts import _meeting_ics
    from innspill.planning.actions import Action, ActionKind
    from innspill.process.definition import MeetingStep, load_definition
    from tests.conftest import SEED

    seed = load_definition(SEED)
    people = [
        p.model_copy(update={"language": "nn"}) if p.id == "bergen-sekretariat" else p
        for p in seed.participants
    ]
    definition = seed.model_copy(update={"participants": people})
    step = definition.step("halvdagsmote")
    assert isinstance(step, MeetingStep)
    action = Action(
        definition.id, step.id, "bergen-sekretariat", ActionKind.MEETING_INVITATION, "1:x"
    )
    inline, attached = _meeting_ics(
        definition, step, action, now=datetime(2020, 5, 25, 9, tzinfo=OSLO)
    )
    assert (inline.alternative, attached.alternative) == (True, False)
    assert inline.params == (("method", "REQUEST"),) and inline.data == attached.data
    _, event = parse(inline.data)
    assert event["SUMMARY"].params["LANGUAGE"] == "nn"
    description = str(event["DESCRIPTION"])
    assert "Videolenkje: https://mote.vegvesen.example/halvdagsmote" in description
    assert "Sakliste:\n1. Velkommen og gjennomgang av sammenstillingen" in description
    assert "Saksliste" not in description and "Videolenke" not in description
