"""The MIME writer: what it writes parses back to exactly what went in, within the line limits."""

from __future__ import annotations

import email
import re
from datetime import UTC, datetime
from email.policy import default

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from innspill.outbound.mime import Attachment, build_message, encoded_words


def message(**overrides: object) -> bytes:
    values: dict[str, object] = dict(
        sender_name="Statens vegvesen, Vegdirektoratet",
        sender_address="post@vegvesen.example",
        recipient_name="Sekretariatet for byvekstavtalen i Nord-Jæren",
        recipient_address="sekretariat@nord-jaeren.byvekst.example",
        reply_to="post@vegvesen.example",
        subject="Påminnelse: frist for innspill 1. juni 2020 (Vår referanse: 20/64758)",
        text="Hei\n\nFrist: mandag 1. juni 2020.\n",
        html="<p>Hei</p>",
        message_id="<innspill.abc@vegvesen.example>",
        date=datetime(2020, 3, 30, 7, tzinfo=UTC),
    )
    values.update(overrides)
    return build_message(**values)  # type: ignore[arg-type]


def lines(raw: bytes) -> list[bytes]:
    assert b"\n" not in raw.replace(b"\r\n", b""), "a bare LF would be rewritten by relays"
    return raw.split(b"\r\n")


text_st = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\x00"), max_size=400
)


# What the renderer produces: one line, runs of white space collapsed (see rendering.render).
one_line = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=200).map(
    lambda value: " ".join(value.split())
)


@settings(max_examples=150, deadline=None)
@given(subject=one_line.filter(bool), name=one_line, text=text_st)
def test_round_trip_of_subject_name_and_text(subject: str, name: str, text: str) -> None:
    raw = message(subject=subject, recipient_name=name, text=text, html=text)
    assert all(len(line) <= 998 for line in lines(raw))
    parsed = email.message_from_bytes(raw, policy=default)
    assert str(parsed["Subject"]) == subject
    assert parsed["To"].addresses[0].addr_spec == "sekretariat@nord-jaeren.byvekst.example"
    body = parsed.get_body(("plain",))
    assert body is not None
    assert body.get_content().replace("\r\n", "\n") == text


def test_body_lines_stay_within_76_characters_and_the_date_is_local() -> None:
    raw = message(text="lang linje " * 200, html="<p>æøå</p>" * 300)
    body = raw.split(b"\r\n\r\n", 1)[1]
    assert max(len(line) for line in lines(body)) <= 78
    assert b"Date: Mon, 30 Mar 2020 09:00:00 +0200" in raw


def test_encoded_words_are_at_most_75_characters_and_never_split_a_character() -> None:
    value = "Påminnelse – æøå ÆØÅ 😀 " * 10
    words = encoded_words(value).split("\r\n ")
    assert all(len(w) <= 75 for w in words)
    assert all(re.fullmatch(r"=\?utf-8\?b\?[A-Za-z0-9+/=]+\?=", w) for w in words)
    assert str(email.message_from_bytes(message(subject=value), policy=default)["Subject"]) == value


def test_attachments_come_back_byte_for_byte_with_their_parameters() -> None:
    data = bytes(range(256)) * 50
    raw = message(
        attachments=[
            Attachment("sammenstilling-v2.docx", "application/octet-stream", data),
            Attachment(
                "invitasjon.ics",
                "text/calendar; charset=utf-8",
                b"BEGIN:VCALENDAR\r\n",
                (("method", "REQUEST"),),
            ),
        ]
    )
    parsed = email.message_from_bytes(raw, policy=default)
    parts = list(parsed.iter_attachments())
    assert [p.get_filename() for p in parts] == ["sammenstilling-v2.docx", "invitasjon.ics"]
    assert parts[0].get_content() == data
    assert parts[1].get_param("method") == "REQUEST"
    assert parsed.get_body(("plain",)) is not None and parsed.get_body(("html",)) is not None


def test_the_same_message_id_gives_the_same_bytes() -> None:
    assert message() == message()
    assert message() != message(message_id="<other@vegvesen.example>")


@pytest.mark.parametrize("field", ["subject", "recipient_name", "sender_name", "reply_to"])
def test_a_line_break_in_any_header_value_is_refused(field: str) -> None:
    from innspill.errors import HeaderInjection

    with pytest.raises(HeaderInjection):
        message(**{field: "x\r\nBcc: someone@example.org"})


def test_a_calendar_part_goes_beside_the_text_and_html_and_files_after_them() -> None:
    """iMIP (RFC 6047) as Outlook and Google send it: multipart/mixed holding a
    multipart/alternative of text, HTML and text/calendar; method=REQUEST (no file name),
    then the files."""
    ics = "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nSUMMARY:Halvdagsmøte\r\nEND:VCALENDAR\r\n".encode()
    raw = message(
        attachments=[
            Attachment(
                "invitasjon.ics",
                'text/calendar; charset="utf-8"',
                ics,
                (("method", "REQUEST"),),
                alternative=True,
            ),
            Attachment("invitasjon.ics", "application/ics", ics),
        ]
    )
    parsed = email.message_from_bytes(raw, policy=default)
    assert parsed.get_content_type() == "multipart/mixed"
    alternative, attached = parsed.iter_parts()
    kinds = [p.get_content_type() for p in alternative.iter_parts()]
    assert kinds == ["text/plain", "text/html", "text/calendar"]
    calendar = list(alternative.iter_parts())[2]
    assert calendar.get_param("method") == "REQUEST" and calendar.get_content_charset() == "utf-8"
    assert calendar["Content-Transfer-Encoding"] == "base64"
    assert calendar.get_filename() is None and calendar.get_content_disposition() is None
    assert calendar.get_payload(decode=True) == ics
    assert (attached.get_filename(), attached.get_content_type()) == (
        "invitasjon.ics",
        "application/ics",
    )
    assert attached.get_payload(decode=True) == ics
    # Without files there is no multipart/mixed at all.
    only = message(attachments=[Attachment("x.ics", "text/calendar", ics, alternative=True)])
    assert email.message_from_bytes(only, policy=default).get_content_type() == (
        "multipart/alternative"
    )
