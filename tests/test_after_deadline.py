"""After the deadline: the compilation, the half-day meeting and the circulation of the draft,
end to end against a real SMTP server (aiosmtpd) and the database. Attachments are read back as
what they are: the DOCX with python-docx, the HTML with html.parser, the .ics with icalendar."""

from __future__ import annotations

import asyncio
import email
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from email.policy import default
from email.utils import parsedate_to_datetime
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

import docx
import pytest
from docx.table import Table
from docx.text.paragraph import Paragraph
from icalendar import Calendar
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import Result

from innspill.config.settings import Settings
from innspill.demo import run as demo
from innspill.documents.store import register_draft
from innspill.documents.treatment import set_treatment
from innspill.engine import tick
from innspill.errors import ChangeRefused, DefinitionError
from innspill.inbound.answers import register_answer
from innspill.models import Document, MessageStatus, OutboxMessage, Process, TreatmentState
from innspill.models.db import make_engine, session_scope
from innspill.outbound.outbox import dispatch
from innspill.outbound.transport import SmtpTransport
from innspill.process.definition import (
    MeetingStep,
    ProcessDefinition,
    load_definition,
    parse_definition,
)
from innspill.process.loading import get_definition, load_file, store_definition
from innspill.process.workdays import OSLO, is_working_day, local_datetime
from innspill.status import ProcessStatus, StepStatus, process_status
from tests.conftest import (
    SEED,
    SEED_ID,
    TEST_DATABASE,
    Run,
    copy_seed_files,
    failed,
    load_seed,
    new_database,
    ok,
    oslo,
    tick_and_send,
)
from tests.smtp_sink import Received, SmtpSink

AREAS = [
    "oslo-akershus",
    "bergen",
    "trondheim",
    "nord-jaeren",
    "kristiansand",
    "buskerudbyen",
    "grenland",
    "nedre-glomma",
    "tromso",
]
DRAFTER = "utkast@vegvesen.example"
#: Bergen writes nynorsk (the seed says so): its letters are in nynorsk.
NYNORSK = {"sekretariat@bergen.byvekst.example", "styringsgruppe@bergen.byvekst.example"}


def in_nynorsk(r: Received) -> bool:
    return r.rcpt_tos[0] in NYNORSK


REQUEST, COMPILATION, MEETING, CIRCULATION = (
    "innspill-retningslinjer",
    "sammenstilling",
    "halvdagsmote",
    "oversendelse",
)
THEMES = {
    "rolle": "Funksjon, rolle og ansvar",
    "kommunikasjon": "Kommunikasjon, representasjon og møtevirksomhet",
    "okonomi": "Økonomi og kostnadsstyring",
    "organisering": "Organisering",
}
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def secretariat(area: str) -> str:
    return f"sekretariat@{area}.byvekst.example"


def steering_group(area: str) -> str:
    return f"styringsgruppe@{area}.byvekst.example"


STEERING_GROUPS = {steering_group(a) for a in AREAS}
MEETING_AUDIENCE = {secretariat(a) for a in AREAS} | {DRAFTER}


# --- helpers ------------------------------------------------------------------------------


def definition_of(engine: Engine) -> ProcessDefinition:
    with session_scope(engine) as session:
        return get_definition(session, SEED_ID)


def text_for(area: str, theme: str) -> str:
    """A distinctive answer text, so that each can be found in exactly one table cell."""
    return f"Innspill fra {area} om temaet {theme}: sekretariatet bør ha en tydelig rolle."


def answer(engine: Engine, area: str, at: datetime, themes: tuple[str, ...] = tuple(THEMES)):
    with session_scope(engine) as session:
        register_answer(
            session,
            definition_of(engine),
            step_id=REQUEST,
            participant_id=f"{area}-sekretariat",
            texts={t: text_for(area, t) for t in themes},
            at=at,
        )


@cache
def _parse(data: bytes) -> EmailMessage:
    return email.message_from_bytes(data, policy=default)  # type: ignore[return-value]


def msg(r: Received) -> EmailMessage:
    """The parsed message, parsed once (parsing every message on each look is slow)."""
    return _parse(r.data)


def subject(r: Received) -> str:
    return str(msg(r)["Subject"])


def text(r: Received) -> str:
    """The plain-text body with its line wrapping undone."""
    body = msg(r).get_body(preferencelist=("plain",))
    assert body is not None
    return " ".join(str(body.get_content()).split())


def messages(smtp: SmtpSink, kind: str, *, step: str | None = None) -> list[Received]:
    out = []
    for r in smtp.received:
        message = msg(r)
        if message["X-Innspill-Kind"] == kind and (
            step is None or message["X-Innspill-Step"] == step
        ):
            out.append(r)
    return out


def recipients(received: list[Received]) -> list[str]:
    return sorted(address for r in received for address in r.rcpt_tos)


def attachments(message: EmailMessage) -> dict[str, tuple[str, bytes]]:
    """filename -> (content type, decoded bytes)."""
    out = {}
    for part in message.iter_attachments():
        data = part.get_payload(decode=True)
        assert isinstance(data, bytes)
        out[str(part.get_filename())] = (part.get_content_type(), data)
    return out


def sent_at(r: Received) -> datetime:
    return parsedate_to_datetime(msg(r)["Date"]).astimezone(OSLO)


def documents(engine: Engine, kind: str) -> list[Document]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(Document).where(Document.kind == kind).order_by(col(Document.version))
            ).all()
        )


def outbox(engine: Engine, *where) -> list[OutboxMessage]:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).where(*where)).all())


def status_at(engine: Engine, now: datetime) -> ProcessStatus:
    with session_scope(engine) as session:
        return process_status(session, get_definition(session, SEED_ID), now=now)


def step_status(status: ProcessStatus, step: str) -> StepStatus:
    return next(s for s in status.steps if s.step == step)


def store(engine: Engine, definition: ProcessDefinition, now: datetime) -> None:
    with session_scope(engine) as session:
        store_definition(session, definition, source="test", now=now, by="test")


def with_meeting(definition: ProcessDefinition, **changes: object) -> ProcessDefinition:
    steps = [
        s.model_copy(update=changes) if isinstance(s, MeetingStep) else s for s in definition.steps
    ]
    return definition.model_copy(update={"steps": steps})


def draft_bytes(title: str = "Utkast til retningslinjer") -> bytes:
    document = docx.Document()
    document.add_heading(title, 0)
    for heading in THEMES.values():
        document.add_heading(heading, 1)
        document.add_paragraph("Tekst utarbeidet på bakgrunn av innspillene.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def add_draft(engine: Engine, path: Path, at: datetime, note: str = "") -> Document:
    with session_scope(engine) as session:
        return register_draft(session, definition_of(engine), CIRCULATION, path, now=at, note=note)


def treat(engine: Engine, area: str, state: TreatmentState, at: datetime) -> None:
    with session_scope(engine) as session:
        set_treatment(
            session,
            definition_of(engine),
            step_id=CIRCULATION,
            participant_id=f"{area}-styringsgruppe",
            state=state,
            now=at,
            # on the agenda of a meeting a week on; treated at a meeting that day
            meeting_date={
                TreatmentState.ON_AGENDA: at.date() + timedelta(days=7),
                TreatmentState.TREATED: at.date(),
            }.get(state),
            decided_on=at.date() if state == TreatmentState.TREATED else None,
            decision="Utkastet tas til orientering." if state == TreatmentState.TREATED else "",
        )


# --- reading the compilation back ------------------------------------------------------------


def docx_sections(data: bytes) -> tuple[list[str], dict[str, list[list[str]]]]:
    """The Heading 1 texts in order, and the cell texts of the tables under each heading."""
    document = docx.Document(io.BytesIO(data))
    headings: list[str] = []
    tables: dict[str, list[list[str]]] = {}
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph) and block.style is not None:
            if block.style.name == "Heading 1":
                headings.append(block.text)
        elif isinstance(block, Table):
            assert headings, "a table before the first heading"
            rows = [[cell.text for cell in row.cells] for row in block.rows]
            tables.setdefault(headings[-1], []).extend(rows)
    return headings, tables


def cells_of(tables: dict[str, list[list[str]]]) -> dict[str, list[str]]:
    return {heading: [cell for row in rows for cell in row] for heading, rows in tables.items()}


class CompilationPage(HTMLParser):
    """The h1, the h2 headings, and the table cells under each h2 of the HTML compilation."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.h1 = ""
        self.h2: list[str] = []
        self.cells: dict[str, list[str]] = {}
        self.lang: str | None = None
        self._in: str | None = None
        self._buffer: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "html":
            self.lang = dict(attrs).get("lang")
        if tag in {"h1", "h2", "td", "th"} and self._in is None:
            self._in, self._buffer = tag, []

    def handle_endtag(self, tag: str) -> None:
        if tag != self._in:
            return
        text = " ".join("".join(self._buffer).split())
        if tag == "h1":
            self.h1 = text
        elif tag == "h2":
            self.h2.append(text)
        elif self.h2:
            self.cells.setdefault(self.h2[-1], []).append(text)
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in is not None:
            self._buffer.append(data)


def read_html(data: bytes) -> CompilationPage:
    page = CompilationPage()
    page.feed(data.decode("utf-8"))
    page.close()
    return page


def assert_answers_in_their_themes(
    tables: dict[str, list[str]], answered: dict[str, tuple[str, ...]]
) -> None:
    """Each answer text is in its own theme's cells and in no other theme's."""
    for area, themes in answered.items():
        for theme, title in THEMES.items():
            found = [
                t for t, cells in tables.items() if any(text_for(area, theme) in c for c in cells)
            ]
            assert found == ([title] if theme in themes else []), (area, theme, found)


def compilation_attachments(r: Received) -> tuple[bytes, bytes]:
    files = attachments(msg(r))
    (docx_name,) = [n for n in files if n.endswith(".docx")]
    (html_name,) = [n for n in files if n.endswith(".html")]
    assert files[docx_name][0] == DOCX_TYPE
    assert files[html_name][0] == "text/html"
    assert docx_name.removesuffix(".docx") == html_name.removesuffix(".html")
    return files[docx_name][1], files[html_name][1]


# --- the CLI -------------------------------------------------------------------------------


def cli_status(cli: Run, at: str) -> dict[str, dict]:  # type: ignore[type-arg]
    (status,) = json.loads(ok(cli("status", SEED_ID, "--json", "--at", at)))
    return {s["step"]: s for s in status["steps"]}


# === 1. The compilation ====================================================================


def test_compilation_after_whit_monday_then_a_new_version_for_a_late_answer(
    engine: Engine, settings: Settings, smtp: SmtpSink
) -> None:
    load_seed(engine)
    on_time = {
        "oslo-akershus": tuple(THEMES),
        "bergen": tuple(THEMES),
        "grenland": ("rolle", "okonomi"),  # answers two of the four themes
    }
    answer(engine, "oslo-akershus", oslo(2020, 5, 14, 14, 20))
    answer(engine, "bergen", oslo(2020, 5, 25, 16, 5))
    answer(engine, "grenland", oslo(2020, 5, 28, 13, 15), themes=on_time["grenland"])

    # The deadline, 1 June, is Whit Monday: it runs to Tuesday 2 June (domstolloven § 149),
    # so an answer at 14.45 that day is on time, and the compilation waits for the first
    # working day after that, 3 June, at 09.00.
    tick_and_send(engine, settings, oslo(2020, 6, 1, 12))
    tick_and_send(engine, settings, oslo(2020, 6, 2, 9))
    answer(engine, "kristiansand", oslo(2020, 6, 2, 14, 45))
    on_time["kristiansand"] = tuple(THEMES)
    tick_and_send(engine, settings, oslo(2020, 6, 2, 15))
    tick_and_send(engine, settings, oslo(2020, 6, 3, 8, 59))
    assert documents(engine, "compilation") == []
    assert not messages(smtp, "compilation")

    planned, _ = tick_and_send(engine, settings, oslo(2020, 6, 3, 9))
    assert [(a.step_id, a.version) for a in planned.compiled] == [(COMPILATION, 1)]
    (v1,) = documents(engine, "compilation")
    assert v1.version == 1 and v1.note == "4 of 9 answered"
    (mail,) = messages(smtp, "compilation")
    assert mail.rcpt_tos == [DRAFTER]
    assert msg(mail)["X-Innspill-Step"] == COMPILATION
    assert subject(mail).startswith("Sammenstilling") and "20/64758" in subject(mail)
    assert "Av de ni som ble bedt om innspill, har fire svart." in " ".join(text(mail).split())
    docx_data, html_data = compilation_attachments(mail)
    assert docx_data == v1.content and html_data.decode() == v1.html

    headings, tables = docx_sections(docx_data)
    assert set(THEMES.values()) <= set(headings)
    assert [h for h in headings if h in THEMES.values()] == list(THEMES.values())
    assert_answers_in_their_themes(cells_of(tables), on_time)
    for title in THEMES.values():
        assert tables[title][0] == ["Deltaker", "Innspill", "Mottatt"]
        assert len(tables[title]) == 1 + 4  # a row per participant who answered
    on_time_row = next(r for r in tables["Organisering"] if "Kristiansand" in r[0])
    assert "(etter fristen)" not in on_time_row[2] and "2. juni 2020 kl. 14.45" in on_time_row[2]
    assert "(ikke besvart for dette temaet)" in [row[1] for row in tables["Organisering"]]

    page = read_html(html_data)
    assert page.lang == "nb"
    assert page.h1 == "Sammenstilling av innspill: Innspill til retningslinjer for sekretariatene"
    assert [h for h in page.h2 if h in THEMES.values()] == list(THEMES.values())
    assert_answers_in_their_themes(page.cells, on_time)

    # A late answer on 3 June at 10.10 (the step closes that day): the next tick makes
    # version 2 and mails it too.
    answer(engine, "nedre-glomma", oslo(2020, 6, 3, 10, 10))
    tick_and_send(engine, settings, oslo(2020, 6, 3, 10, 9))
    assert len(documents(engine, "compilation")) == 1
    planned, _ = tick_and_send(engine, settings, oslo(2020, 6, 3, 11))
    assert [a.version for a in planned.compiled] == [2]
    first, second = documents(engine, "compilation")
    assert (first.version, second.version) == (1, 2)
    assert first.content == v1.content and first.sha256 == hashlib.sha256(docx_data).hexdigest()
    assert first.created_at == v1.created_at and first.html == v1.html
    assert second.note == "5 of 9 answered"
    assert second.filename.endswith("-v2.docx") and first.filename.endswith("-v1.docx")

    mails = messages(smtp, "compilation")
    assert [r.rcpt_tos for r in mails] == [[DRAFTER], [DRAFTER]]
    assert "versjon 2" in subject(mails[1])
    docx2, html2 = compilation_attachments(mails[1])
    assert docx2 == second.content
    _, tables2 = docx_sections(docx2)
    on_time_and_late = {**on_time, "nedre-glomma": tuple(THEMES)}
    assert_answers_in_their_themes(cells_of(tables2), on_time_and_late)
    late_row = next(r for r in tables2["Organisering"] if "Nedre Glomma" in r[0])
    assert "(etter fristen)" in late_row[2] and "3. juni 2020 kl. 10.10" in late_row[2]
    assert_answers_in_their_themes(read_html(html2).cells, on_time_and_late)

    # No new answers: ticking again makes and sends nothing.
    for moment in (oslo(2020, 6, 3, 15, 30), oslo(2020, 6, 4, 9), oslo(2020, 6, 5, 14)):
        planned, _ = tick_and_send(engine, settings, moment)
        assert planned.compiled == []
    assert len(documents(engine, "compilation")) == 2
    assert len(messages(smtp, "compilation")) == 2


def test_no_answers_no_compilation_and_the_compile_command_says_why(
    cli: Run, engine: Engine, smtp: SmtpSink
) -> None:
    ok(cli("load", str(SEED), "--at", "2020-03-30T08:00"))
    ok(cli("tick", "--at", "2020-06-02T09:00"))
    ok(cli("tick", "--at", "2020-06-03T10:00"))
    assert documents(engine, "compilation") == []
    assert not messages(smtp, "compilation")

    out = failed(cli("compile", SEED_ID, COMPILATION, "--at", "2020-06-03T10:00"))
    assert "nobody has answered" in out and REQUEST in out
    assert documents(engine, "compilation") == []

    steps = cli_status(cli, "2020-06-03T10:00")
    assert steps[COMPILATION]["state"] == "overdue"
    assert steps[COMPILATION]["note"] == "no answers to compile yet"


def test_compile_command_writes_the_files_and_the_tick_sends_that_version(
    cli: Run, engine: Engine, settings: Settings, smtp: SmtpSink, tmp_path: Path
) -> None:
    load_seed(engine)
    answer(engine, "bergen", oslo(2020, 5, 25, 16, 5))
    answer(engine, "tromso", oslo(2020, 5, 26, 10))
    out_dir = tmp_path / "ut"

    out = ok(
        cli("compile", SEED_ID, COMPILATION, "--out", str(out_dir), "--at", "2020-06-02T08:00")
    )
    assert "Compiled version 1: 2 of 9 answered." in out
    (stored,) = documents(engine, "compilation")
    docx_file = out_dir / "sammenstilling-innspill-retningslinjer-v1.docx"
    html_file = out_dir / "sammenstilling-innspill-retningslinjer-v1.html"
    assert sorted(p.name for p in out_dir.iterdir()) == [docx_file.name, html_file.name]
    assert docx_file.read_bytes() == stored.content
    headings, tables = docx_sections(docx_file.read_bytes())
    assert set(THEMES.values()) <= set(headings)
    answered = {"bergen": tuple(THEMES), "tromso": tuple(THEMES)}
    assert_answers_in_their_themes(cells_of(tables), answered)
    assert_answers_in_their_themes(read_html(html_file.read_bytes()).cells, answered)

    # Run again with nothing new: no second version, the files are written again.
    html_file.unlink()
    out = ok(
        cli("compile", SEED_ID, COMPILATION, "--out", str(out_dir), "--at", "2020-06-02T08:30")
    )
    assert "Version 1 already has every answer; nothing new." in out
    assert html_file.read_text(encoding="utf-8") == stored.html
    assert len(documents(engine, "compilation")) == 1

    # The tick after the deadline (1 June, Whit Monday, runs to 2 June) sends that version
    # and makes no other.
    tick_and_send(engine, settings, oslo(2020, 6, 3, 9))
    (mail,) = messages(smtp, "compilation")
    assert compilation_attachments(mail)[0] == stored.content
    assert len(documents(engine, "compilation")) == 1


# === 2. The half-day meeting ===============================================================


def read_ics(r: Received) -> tuple[Calendar, str]:
    """The calendar of a meeting message, as mail programs find it (iMIP, RFC 6047): the
    text/calendar part with its method beside the text and HTML in the multipart/alternative
    (no file name: it is the invitation itself), and the same bytes as an .ics file."""
    message = msg(r)
    assert message.get_content_type() == "multipart/mixed"
    alternative, *files = message.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    plain, html, inline = alternative.iter_parts()
    assert (plain.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert inline.get_content_type() == "text/calendar"
    assert inline.get_content_disposition() is None and inline.get_filename() is None
    assert inline.get_content_charset() == "utf-8"
    data = inline.get_payload(decode=True)
    assert isinstance(data, bytes)
    (ics,) = [f for f in files if f.get_filename() == "invitasjon.ics"]
    assert (ics.get_content_type(), ics.get_content_disposition()) == (
        "application/ics",
        "attachment",
    )
    assert ics.get_payload(decode=True) == data
    calendar = Calendar.from_ical(data)
    method = str(inline.get_param("method"))
    assert str(calendar["METHOD"]) == method
    return calendar, method


def the_event(calendar: Calendar):  # type: ignore[no-untyped-def]
    (event,) = calendar.walk("VEVENT")
    return event


def uid_for(address: str) -> str:
    area = address.split("@")[1].split(".")[0]
    person = "vegdirektoratet-utredning" if address == DRAFTER else f"{area}-sekretariat"
    return f"{SEED_ID}.{MEETING}.{person}@vegvesen.example"


def test_meeting_invitation_update_and_cancel_with_one_uid(
    engine: Engine, settings: Settings, smtp: SmtpSink
) -> None:
    load_seed(engine)
    before = status_at(engine, oslo(2020, 5, 22, 16))
    assert step_status(before, MEETING).state == "not started"

    # 10 working days before Tuesday 9 June (Whit Monday not counted) is Monday 25 May.
    tick_and_send(engine, settings, oslo(2020, 5, 22, 16))
    tick_and_send(engine, settings, oslo(2020, 5, 25, 8, 59))
    assert not messages(smtp, "meeting_invitation")
    tick_and_send(engine, settings, oslo(2020, 5, 25, 9))
    invitations = messages(smtp, "meeting_invitation", step=MEETING)
    assert recipients(invitations) == sorted(MEETING_AUDIENCE)
    uids = {}
    for r in invitations:
        assert sent_at(r) == datetime(2020, 5, 25, 9, tzinfo=OSLO)
        assert subject(r).startswith(
            "Innkalling til halvdagsmøte om innspela"
            if in_nynorsk(r)
            else "Innkalling til halvdagsmøte om innspillene"
        )
        calendar, method = read_ics(r)
        assert method == "REQUEST" and str(calendar["METHOD"]) == "REQUEST"
        event = the_event(calendar)
        assert int(event["SEQUENCE"]) == 0
        assert str(event["STATUS"]) == "CONFIRMED"
        assert event["DTSTART"].params["TZID"] == "Europe/Oslo"
        start, end = event.decoded("DTSTART"), event.decoded("DTEND")
        assert start == datetime(2020, 6, 9, 9, 0, tzinfo=OSLO)
        assert start.astimezone(UTC) == datetime(2020, 6, 9, 7, 0, tzinfo=UTC)
        assert end.astimezone(UTC) == datetime(2020, 6, 9, 10, 30, tzinfo=UTC)
        assert str(event["ATTENDEE"]) == f"mailto:{r.rcpt_tos[0]}"
        # The place and the video link, where Outlook shows them (it does not show URL).
        link = "https://mote.vegvesen.example/halvdagsmote"
        assert str(event["LOCATION"]) == f"Videomøte – {link}"
        assert str(event["URL"]) == link
        # Norwegian throughout: the texts say their language; no English COMMENT anywhere.
        language = "nn" if in_nynorsk(r) else "nb"
        assert {event[name].params["LANGUAGE"] for name in ("SUMMARY", "DESCRIPTION")} == {language}
        if language == "nn":
            assert "1. Velkomen og gjennomgang av samanstillinga" in str(event["DESCRIPTION"])
            assert f"Videolenkje: {link}" in str(event["DESCRIPTION"])
        else:
            assert str(event["DESCRIPTION"]).splitlines() == [
                "Innspill til retningslinjer for sekretariatene for byvekstavtalene "
                "(vår ref. 20/64758)",
                "",
                f"Videolenke: {link}",
                "",
                "Saksliste:",
                "1. Velkommen og gjennomgang av sammenstillingen",
                "2. Drøfting av innspillene tema for tema",
                "3. Videre prosess fram mot utkast til retningslinjer",
            ]
        assert not [c for c in calendar.walk() if "COMMENT" in c]
        uids[r.rcpt_tos[0]] = str(event["UID"])
        assert uids[r.rcpt_tos[0]] == uid_for(r.rcpt_tos[0])
    assert len(set(uids.values())) == len(MEETING_AUDIENCE)
    assert step_status(status_at(engine, oslo(2020, 5, 25, 10)), MEETING).state == "open"

    # Ticking again sends nothing new.
    tick_and_send(engine, settings, oslo(2020, 5, 26, 9))
    assert len(messages(smtp, "meeting_invitation")) == len(MEETING_AUDIENCE)

    # The meeting is moved an hour: an updated invitation, same UID, SEQUENCE 1, the new time.
    definition = definition_of(engine)
    store(engine, with_meeting(definition, start=time(10), end=time(13, 30)), oslo(2020, 6, 3, 12))
    tick_and_send(engine, settings, oslo(2020, 6, 3, 14))
    updated = messages(smtp, "meeting_invitation")[len(MEETING_AUDIENCE) :]
    assert recipients(updated) == sorted(MEETING_AUDIENCE)
    for r in updated:
        # "Oppdatert innkalling til ..." with the case after it does not fit: "Endret møte".
        assert subject(r).startswith(
            "Endra møte: Halvdagsmøte om innspela"
            if in_nynorsk(r)
            else "Endret møte: Halvdagsmøte om innspillene"
        )
        calendar, method = read_ics(r)
        event = the_event(calendar)
        assert method == "REQUEST" and str(calendar["METHOD"]) == "REQUEST"
        assert str(event["UID"]) == uids[r.rcpt_tos[0]]
        assert int(event["SEQUENCE"]) == 1
        assert event.decoded("DTSTART").astimezone(UTC) == datetime(2020, 6, 9, 8, tzinfo=UTC)
        assert event.decoded("DTEND") == datetime(2020, 6, 9, 13, 30, tzinfo=OSLO)
    assert (
        "updated 1 time(s)"
        in step_status(status_at(engine, oslo(2020, 6, 3, 15)), MEETING).bodies[
            "bergen-sekretariat"
        ]
    )

    # Cancelled: a CANCEL with the same UID and SEQUENCE 2, and no reminder afterwards.
    moved = definition_of(engine)
    store(engine, with_meeting(moved, cancelled=True), oslo(2020, 6, 4, 10))
    tick_and_send(engine, settings, oslo(2020, 6, 4, 11))
    cancels = messages(smtp, "meeting_cancel", step=MEETING)
    assert recipients(cancels) == sorted(MEETING_AUDIENCE)
    for r in cancels:
        assert subject(r).startswith(
            "Avlyst: Halvdagsmøte om innspela"
            if in_nynorsk(r)
            else "Avlyst: Halvdagsmøte om innspillene"
        )
        calendar, method = read_ics(r)
        event = the_event(calendar)
        assert method == "CANCEL" and str(calendar["METHOD"]) == "CANCEL"
        assert str(event["UID"]) == uids[r.rcpt_tos[0]]
        assert int(event["SEQUENCE"]) == 2
        assert str(event["STATUS"]) == "CANCELLED"
    for moment in (oslo(2020, 6, 5, 9), oslo(2020, 6, 8, 9), oslo(2020, 6, 8, 15)):
        tick_and_send(engine, settings, moment)
    assert not messages(smtp, "meeting_reminder")
    assert len(messages(smtp, "meeting_cancel")) == len(MEETING_AUDIENCE)
    after = step_status(status_at(engine, oslo(2020, 6, 8, 15)), MEETING)
    assert (after.state, after.note) == ("done", "cancelled")


def test_meeting_reminder_the_working_day_before_carries_the_latest_compilation(
    cli: Run, engine: Engine, settings: Settings, smtp: SmtpSink
) -> None:
    load_seed(engine)
    answer(engine, "bergen", oslo(2020, 5, 25, 16, 5))
    tick_and_send(engine, settings, oslo(2020, 5, 25, 9))  # the meeting invitations
    tick_and_send(engine, settings, oslo(2020, 6, 3, 9))  # compilation version 1
    answer(engine, "kristiansand", oslo(2020, 6, 3, 10, 10))  # late, before the step closes
    tick_and_send(engine, settings, oslo(2020, 6, 3, 11))  # version 2
    latest = documents(engine, "compilation")[-1]
    assert latest.version == 2

    # Friday, the weekend, and Monday before 09.00: no reminder yet.
    for day, hour, minute in ((5, 16, 0), (6, 10, 0), (7, 10, 0), (8, 8, 59)):
        tick_and_send(engine, settings, oslo(2020, 6, day, hour, minute))
    assert not messages(smtp, "meeting_reminder")
    tick_and_send(engine, settings, oslo(2020, 6, 8, 9))
    reminders = messages(smtp, "meeting_reminder", step=MEETING)
    assert recipients(reminders) == sorted(MEETING_AUDIENCE)
    for r in reminders:
        assert sent_at(r).date() == date(2020, 6, 8)
        files = attachments(msg(r))
        assert files == {latest.filename: (DOCX_TYPE, latest.content)}  # no .ics, no HTML
        if in_nynorsk(r):
            assert "i morgon" in text(r) and "Vedlagt følgjer samanstillinga" in text(r)
        else:
            assert "i morgen" in text(r) and "Vedlagt følger sammenstillingen" in text(r)
    tick_and_send(engine, settings, oslo(2020, 6, 8, 14))
    assert len(messages(smtp, "meeting_reminder")) == len(MEETING_AUDIENCE)

    # Attendance, registered afterwards, shows in the status.
    ok(cli("attendance", SEED_ID, MEETING, "bergen-sekretariat", "--at", "2020-06-09T13:00"))
    out = ok(
        cli(
            "attendance",
            SEED_ID,
            MEETING,
            "tromso-sekretariat",
            "--absent",
            "--at",
            "2020-06-09T13:00",
        )
    )
    assert "tromso-sekretariat: absent from halvdagsmote." in out
    out = failed(
        cli("attendance", SEED_ID, MEETING, "bergen-styringsgruppe", "--at", "2020-06-09T13:00")
    )
    assert "was not invited" in out
    out = failed(cli("attendance", SEED_ID, CIRCULATION, "bergen-styringsgruppe"))
    assert "not a meeting" in out

    during = cli_status(cli, "2020-06-09T10:00")[MEETING]
    assert during["state"] == "open"
    meeting = cli_status(cli, "2020-06-09T14:00")[MEETING]
    assert meeting["state"] == "done" and meeting["note"] == "1 attended"
    assert meeting["bodies"]["bergen-sekretariat"] == "attended"
    assert meeting["bodies"]["tromso-sekretariat"] == "absent"
    assert meeting["bodies"]["oslo-akershus-sekretariat"] == "invited"


def test_meeting_reminder_without_a_compilation_has_no_attachment(
    engine: Engine, settings: Settings, smtp: SmtpSink
) -> None:
    load_seed(engine)
    tick_and_send(engine, settings, oslo(2020, 5, 25, 9))
    tick_and_send(engine, settings, oslo(2020, 6, 8, 9, 30))
    reminders = messages(smtp, "meeting_reminder")
    assert recipients(reminders) == sorted(MEETING_AUDIENCE)
    for r in reminders:
        assert attachments(msg(r)) == {}
        assert "Vedlagt følger sammenstillingen" not in text(r)


# === 3. The circulation of the draft =======================================================


def test_draft_add_circulates_it_and_a_second_version_says_what_changed(
    cli: Run, engine: Engine, settings: Settings, smtp: SmtpSink, tmp_path: Path
) -> None:
    load_seed(engine)
    first = tmp_path / "utkast-retningslinjer.docx"
    first.write_bytes(draft_bytes())
    out = ok(cli("draft", "add", SEED_ID, str(first), "--at", "2020-06-10T10:00"))
    assert "Draft version 1 (utkast-retningslinjer.docx) registered for oversendelse" in out
    assert not messages(smtp, "circulation")  # registering sends nothing by itself

    tick_and_send(engine, settings, oslo(2020, 6, 10, 10, 15))
    circulated = messages(smtp, "circulation", step=CIRCULATION)
    assert recipients(circulated) == sorted(STEERING_GROUPS)
    for r in circulated:
        assert attachments(msg(r)) == {first.name: (DOCX_TYPE, first.read_bytes())}
        assert "Revidert" not in subject(r)
    tick_and_send(engine, settings, oslo(2020, 6, 10, 14))
    assert len(messages(smtp, "circulation")) == len(STEERING_GROUPS)

    second = tmp_path / "utkast-retningslinjer-v2.docx"
    second.write_bytes(draft_bytes("Utkast til retningslinjer, revidert"))
    out = failed(cli("draft", "add", SEED_ID, str(second), "--at", "2020-06-11T10:00"))
    assert "--note" in out
    assert len(documents(engine, "draft")) == 1

    note = "Kapittel 3 om økonomi er skrevet om etter innspill fra Bergen."
    out = ok(cli("draft", "add", SEED_ID, str(second), "--note", note, "--at", "2020-06-11T10:00"))
    assert "Draft version 2" in out
    tick_and_send(engine, settings, oslo(2020, 6, 11, 10, 15))
    revised = messages(smtp, "circulation")[len(STEERING_GROUPS) :]
    assert recipients(revised) == sorted(STEERING_GROUPS)
    for r in revised:
        assert subject(r).startswith("Revidert utkast (versjon 2)")
        assert text(r).count(note) == 1
        assert ("erstattar" if in_nynorsk(r) else "erstatter") + " versjon 1" in text(r)
        assert attachments(msg(r)) == {second.name: (DOCX_TYPE, second.read_bytes())}
    v1, v2 = documents(engine, "draft")
    assert (v1.content, v2.content) == (first.read_bytes(), second.read_bytes())
    assert (v1.note, v2.note) == ("", note)

    steps = cli_status(cli, "2020-06-12T10:00")
    assert steps[CIRCULATION]["state"] == "open"
    assert steps[CIRCULATION]["note"] == f"draft version 2: {second.name}"
    assert set(steps[CIRCULATION]["bodies"].values()) == {"pending"}


def _not_a_docx_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("utkast.txt", "Utkast til retningslinjer")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("utkast.txt", b"Utkast til retningslinjer\n", "neither a Word document (.docx) nor a PDF"),
        ("utkast.zip", _not_a_docx_zip(), "is a ZIP file but not a Word document (.docx)"),
        (
            "utkast.docx",
            b"Utkast til retningslinjer\n",
            "neither a Word document (.docx) nor a PDF",
        ),
        ("tom.docx", b"", "neither a Word document (.docx) nor a PDF"),
    ],
    ids=["text", "zip", "text-renamed-docx", "empty"],
)
def test_a_draft_that_is_not_docx_or_pdf_is_refused(
    cli: Run,
    engine: Engine,
    settings: Settings,
    smtp: SmtpSink,
    tmp_path: Path,
    name: str,
    content: bytes,
    message: str,
) -> None:
    load_seed(engine)
    path = tmp_path / name
    path.write_bytes(content)
    out = failed(cli("draft", "add", SEED_ID, str(path), "--at", "2020-06-10T10:00"))
    assert message in " ".join(out.split()) and name in out
    assert documents(engine, "draft") == []
    tick_and_send(engine, settings, oslo(2020, 6, 10, 10, 15))
    assert not messages(smtp, "circulation")
    assert outbox(engine, OutboxMessage.step_key == CIRCULATION) == []


def test_a_pdf_draft_is_accepted_and_named_by_what_it_is(
    cli: Run, engine: Engine, settings: Settings, smtp: SmtpSink, tmp_path: Path
) -> None:
    load_seed(engine)
    path = tmp_path / "utkast.docx"  # a PDF with the wrong name
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    path.write_bytes(pdf)
    out = ok(cli("draft", "add", SEED_ID, str(path), "--at", "2020-06-10T10:00"))
    assert "(utkast.pdf)" in out
    tick_and_send(engine, settings, oslo(2020, 6, 10, 10, 15))
    for r in messages(smtp, "circulation"):
        assert attachments(msg(r)) == {"utkast.pdf": ("application/pdf", pdf)}
    assert len(messages(smtp, "circulation")) == len(STEERING_GROUPS)


def test_treatment_states_from_the_command_line(
    cli: Run, engine: Engine, settings: Settings, smtp: SmtpSink, tmp_path: Path
) -> None:
    load_seed(engine)
    path = tmp_path / "utkast.docx"
    path.write_bytes(draft_bytes())
    ok(cli("draft", "add", SEED_ID, str(path), "--at", "2020-06-10T10:00"))
    tick_and_send(engine, settings, oslo(2020, 6, 10, 10, 15))
    body = "bergen-styringsgruppe"

    def treatment(*args: str) -> Result:
        return cli("treatment", SEED_ID, CIRCULATION, body, *args)

    assert "--meeting-date" in failed(treatment("--state", "on_agenda", "--at", "2020-06-12T10:00"))
    assert "pending, on_agenda or treated" in failed(treatment("--state", "done"))
    assert "not a date" in failed(treatment("--state", "on_agenda", "--meeting-date", "23.06.2020"))
    assert cli_status(cli, "2020-06-12T10:05")[CIRCULATION]["bodies"][body] == "pending"

    out = ok(
        treatment(
            "--state", "on_agenda", "--meeting-date", "2020-06-23", "--at", "2020-06-12T10:00"
        )
    )
    assert "on agenda" in out
    assert (
        cli_status(cli, "2020-06-12T10:05")[CIRCULATION]["bodies"][body]
        == "on the agenda 2020-06-23"
    )

    no_decision = failed(treatment("--state", "treated", "--decided-on", "2020-06-23"))
    no_date = failed(treatment("--state", "treated", "--decision", "Vedtatt."))
    assert "--decision" in no_decision and "--decided-on" in no_date
    assert (
        cli_status(cli, "2020-06-24T10:00")[CIRCULATION]["bodies"][body]
        == "on the agenda 2020-06-23"
    )
    decision = "Styringsgruppen slutter seg til utkastet."
    ok(
        treatment(
            "--state",
            "treated",
            "--decided-on",
            "2020-06-23",
            "--decision",
            decision,
            "--at",
            "2020-06-24T10:00",
        )
    )
    circulation = cli_status(cli, "2020-06-24T10:05")[CIRCULATION]
    assert circulation["bodies"][body] == f"treated 2020-06-23: {decision}"
    assert (circulation["answered"], circulation["expected"], circulation["state"]) == (
        1,
        9,
        "open",
    )

    out = failed(cli("treatment", SEED_ID, CIRCULATION, "bergen-sekretariat", "--state", "pending"))
    assert "not among the bodies" in out
    out = failed(cli("treatment", SEED_ID, MEETING, body, "--state", "pending"))
    assert "not a circulation step" in out


def test_circulation_is_done_only_when_every_body_has_treated_it(
    engine: Engine, settings: Settings, smtp: SmtpSink, tmp_path: Path
) -> None:
    load_seed(engine)
    path = tmp_path / "utkast.docx"
    path.write_bytes(draft_bytes())
    add_draft(engine, path, oslo(2020, 6, 10, 10))
    tick_and_send(engine, settings, oslo(2020, 6, 10, 10, 15))
    for area in AREAS[:-1]:
        treat(engine, area, TreatmentState.TREATED, oslo(2020, 6, 22, 12))
    circulation = step_status(status_at(engine, oslo(2020, 6, 22, 13)), CIRCULATION)
    assert (circulation.state, circulation.answered) == ("open", 8)
    assert circulation.bodies["tromso-styringsgruppe"] == "pending"
    treat(engine, "tromso", TreatmentState.TREATED, oslo(2020, 6, 23, 12))
    circulation = step_status(status_at(engine, oslo(2020, 6, 23, 13)), CIRCULATION)
    assert (circulation.state, circulation.answered) == ("done", 9)


def test_treatment_reminders_skip_holidays_and_stop_after_two(
    engine: Engine, settings: Settings, smtp: SmtpSink, tmp_path: Path
) -> None:
    """A draft sent on Friday 15 May: 10 working days on, past Ascension Day (21 May) and
    Whit Monday (1 June), is Tuesday 2 June; 5 more is Tuesday 9 June; then no more."""
    load_seed(engine)
    path = tmp_path / "utkast.docx"
    path.write_bytes(draft_bytes())
    add_draft(engine, path, oslo(2020, 5, 15, 10))
    tick_and_send(engine, settings, oslo(2020, 5, 15, 10, 30))
    assert len(messages(smtp, "circulation")) == len(STEERING_GROUPS)
    news = {
        date(2020, 5, 20): ("bergen", TreatmentState.ON_AGENDA),
        date(2020, 6, 4): ("trondheim", TreatmentState.TREATED),
    }
    day = date(2020, 5, 16)
    while day <= date(2020, 6, 19):
        tick_and_send(engine, settings, local_datetime(day, time(9)))
        if day in news:  # reported after the morning's tick
            treat(engine, *news[day], local_datetime(day, time(10)))
        day += timedelta(days=1)

    reminders = messages(smtp, "treatment_reminder", step=CIRCULATION)
    by_day: dict[date, set[str]] = {}
    for r in reminders:
        assert is_working_day(sent_at(r).date()) and sent_at(r).time() == time(9)
        by_day.setdefault(sent_at(r).date(), set()).update(r.rcpt_tos)
    pending = STEERING_GROUPS - {steering_group("bergen")}
    assert by_day == {
        date(2020, 6, 2): pending,
        date(2020, 6, 9): pending - {steering_group("trondheim")},
    }
    second = next(r for r in reminders if sent_at(r).date() == date(2020, 6, 9))
    assert subject(second).startswith("Ny påminnelse:")
    assert "15. mai 2020" in text(second)


# === 4. Bad input ==========================================================================


def test_a_steering_group_without_an_email_is_a_definition_error(
    engine: Engine, tmp_path: Path
) -> None:
    source = SEED.read_text(encoding="utf-8")
    line = 'email = "styringsgruppe@bergen.byvekst.example"\n'
    assert source.count(line) == 1
    path = tmp_path / "prosess.toml"
    path.write_text(source.replace(line, ""), encoding="utf-8")
    copy_seed_files(tmp_path)
    with pytest.raises(DefinitionError) as caught, session_scope(engine) as session:
        load_file(session, path, now=oslo(2020, 3, 30, 8))
    assert [(p.field, p.message) for p in caught.value.problems] == [
        ("participants[10].email", "required field is missing")
    ]
    assert f"{path}: participants[10].email: required field is missing" in str(caught.value)
    with Session(engine) as session:
        assert session.get(Process, SEED_ID) is None

    with pytest.raises(DefinitionError) as caught:
        parse_definition(source.replace(line, 'email = ""\n'), file="prosess.toml")
    assert [p.field for p in caught.value.problems] == ["participants[10].email"]


def test_a_meeting_in_the_past_is_refused_when_loading(engine: Engine) -> None:
    definition = load_definition(SEED)
    with pytest.raises(ChangeRefused) as caught:
        store(engine, definition, oslo(2020, 6, 10, 10))
    assert "halvdagsmote" in str(caught.value) and "steps[4].date" in str(caught.value)
    with Session(engine) as session:
        assert session.get(Process, SEED_ID) is None  # nothing written

    # A cancelled meeting in the past is no problem (nor, below, one already announced).
    store(engine, with_meeting(definition, cancelled=True), oslo(2020, 6, 10, 10))


def test_a_meeting_already_announced_may_lie_in_the_past_when_the_file_is_loaded_again(
    engine: Engine, settings: Settings, smtp: SmtpSink
) -> None:
    load_seed(engine)
    tick_and_send(engine, settings, oslo(2020, 5, 25, 9))
    definition = definition_of(engine)
    store(engine, with_meeting(definition, place="Vegdirektoratet, møterom 1"), oslo(2020, 6, 20))
    assert definition_of(engine).step(MEETING).place == "Vegdirektoratet, møterom 1"  # type: ignore[union-attr]


def test_an_announced_meeting_cannot_be_moved_into_the_past(
    engine: Engine, settings: Settings, smtp: SmtpSink
) -> None:
    load_seed(engine)
    tick_and_send(engine, settings, oslo(2020, 5, 25, 9))
    definition = definition_of(engine)
    with pytest.raises(ChangeRefused, match="moved from 2020-06-09 to 2020-06-01"):
        store(engine, with_meeting(definition, date=date(2020, 6, 1)), oslo(2020, 6, 3, 10))
    assert definition_of(engine).step(MEETING).date == date(2020, 6, 9)  # type: ignore[union-attr]


def test_a_refused_steering_group_does_not_stop_the_others(
    cli: Run, engine: Engine, settings: Settings, smtp: SmtpSink, tmp_path: Path
) -> None:
    load_seed(engine)
    path = tmp_path / "utkast.docx"
    path.write_bytes(draft_bytes())
    add_draft(engine, path, oslo(2020, 6, 10, 10))
    refused = steering_group("bergen")
    smtp.handler.refuse[refused] = "550 5.1.1 No such user"
    _, report = tick_and_send(engine, settings, oslo(2020, 6, 10, 10, 15))
    assert report.stopped is None and report.failed == 1

    circulated = messages(smtp, "circulation")
    assert recipients(circulated) == sorted(STEERING_GROUPS - {refused})
    for r in circulated:
        assert attachments(msg(r)) == {path.name: (DOCX_TYPE, path.read_bytes())}
    rows = outbox(engine, OutboxMessage.kind == "circulation")
    assert {(r.recipient, r.status) for r in rows} == {
        (a, MessageStatus.FAILED if a == refused else MessageStatus.SENT) for a in STEERING_GROUPS
    }
    (bad,) = [r for r in rows if r.recipient == refused]
    assert "550" in (bad.last_error or "") and bad.attempts == 1

    # Nothing is sent twice, and the failed one waits for a person.
    del smtp.handler.refuse[refused]
    tick_and_send(engine, settings, oslo(2020, 6, 11, 10))
    assert len(messages(smtp, "circulation")) == len(STEERING_GROUPS) - 1

    status = status_at(engine, oslo(2020, 6, 11, 11))
    assert any(
        f.startswith(f"circulation to {refused}: ") and "550" in f for f in status.failed_messages
    )
    assert step_status(status, CIRCULATION).bodies["bergen-styringsgruppe"] == (
        "draft not delivered (the message failed)"
    )
    assert step_status(status, CIRCULATION).state == "open"
    output = ok(cli("status", SEED_ID, "--at", "2020-06-11T11:00"))
    assert f"FAILED: circulation to {refused}" in output
    assert "draft not delivered" in output

    # After the deadline (15 June) the draft has still not reached one group: overdue.
    assert step_status(status_at(engine, oslo(2020, 6, 16, 9)), CIRCULATION).state == "overdue"


# === 5. Status through the 2020 round ======================================================

#: When the simulated round is ticked: sparse, but on every day that matters for the steps
#: after the deadline (the planner catches up on what fell due between ticks).
ROUND_TICKS = [
    local_datetime(day, time(hour, minute))
    for day, hour, minute in [
        (date(2020, 3, 30), 9, 0),
        (date(2020, 5, 22), 14, 0),
        (date(2020, 5, 25), 9, 0),
        (date(2020, 6, 1), 14, 0),  # Whit Monday
        (date(2020, 6, 2), 9, 0),
        (date(2020, 6, 3), 9, 0),
        (date(2020, 6, 3), 14, 0),
        (date(2020, 6, 4), 14, 0),
        (date(2020, 6, 8), 9, 0),
        (date(2020, 6, 9), 10, 0),
        (date(2020, 6, 9), 14, 0),
        (date(2020, 6, 10), 9, 0),
        (date(2020, 6, 10), 14, 0),
        (date(2020, 6, 23), 16, 0),
        (date(2020, 6, 24), 9, 0),
        (date(2020, 6, 27), 10, 0),  # Saturday
        (date(2020, 6, 29), 9, 0),
        (date(2020, 6, 30), 14, 0),
        (date(2020, 7, 1), 9, 0),  # the process has ended
        (date(2020, 9, 3), 9, 0),
    ]
]


class Round:
    """The simulated round: the mail it sent and the status after each tick."""

    def __init__(self, smtp: SmtpSink) -> None:
        self.smtp = smtp
        self.status: dict[datetime, ProcessStatus] = {}

    def step(self, at: datetime, step: str) -> StepStatus:
        return step_status(self.status[at], step)


def on(month: int, day: int, hour: int) -> datetime:
    return local_datetime(date(2020, month, day), time(hour))


@pytest.fixture(scope="module")
def round_2020(tmp_path_factory) -> Iterator[Round]:  # type: ignore[no-untyped-def]
    """The demo's world (answers, the moved meeting, attendance, the draft, treatments), ticked
    at ROUND_TICKS, once for this module."""
    tmp = tmp_path_factory.mktemp("round")
    url, drop = new_database(TEST_DATABASE, tmp)
    engine = make_engine(url)
    with SmtpSink() as smtp:
        settings = Settings(
            data_dir=tmp / "data",
            database_url=url,
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            _env_file=None,  # type: ignore[call-arg]
        )
        transport = SmtpTransport(settings)
        load_seed(engine)
        definition = definition_of(engine)
        pending = demo.happenings()
        result = Round(smtp)
        for now in ROUND_TICKS:
            while pending and pending[0].at <= now:
                pending.pop(0).apply(engine, definition)
            tick(engine, now=now, outgoing=demo.DEMO_OUTGOING)
            asyncio.run(dispatch(engine, transport, now=now))
            result.status[now] = status_at(engine, now)
        yield result
    engine.dispose()
    drop()


def test_round_compilation_not_started_then_done_with_its_version(round_2020: Round) -> None:
    # The deadline, 1 June (Whit Monday), runs to 2 June: nothing is compiled before 3 June,
    # and Kristiansand's answer of 2 June 14.45 is in version 1, on time.
    assert round_2020.step(on(6, 1, 14), COMPILATION).state == "not started"
    assert round_2020.step(on(6, 2, 9), COMPILATION).state == "not started"
    step = round_2020.step(on(6, 3, 9), COMPILATION)
    assert step.state == "done"
    assert step.note == "version 1 of 03.06.2020 09.00: 7 of 9 answered"
    # Nedre Glomma's late answer (3 June 10.10, the day the step closes).
    assert round_2020.step(on(6, 3, 14), COMPILATION).note == (
        "version 2 of 03.06.2020 14.00: 8 of 9 answered"
    )
    mails = messages(round_2020.smtp, "compilation", step=COMPILATION)
    assert [r.rcpt_tos for r in mails] == [[DRAFTER]] * 2
    assert [sent_at(r) for r in mails] == [
        datetime(2020, 6, 3, 9, tzinfo=OSLO),
        datetime(2020, 6, 3, 14, tzinfo=OSLO),
    ]
    _, tables = docx_sections(compilation_attachments(mails[-1])[0])
    assert any(
        "Innspill fra Nedre Glomma om organisering." in row[1] for row in tables["Organisering"]
    )


def test_round_meeting_not_started_open_then_done_with_attendance(round_2020: Round) -> None:
    assert round_2020.step(on(5, 22, 14), MEETING).state == "not started"
    assert round_2020.step(on(5, 25, 9), MEETING).state == "open"
    moved = round_2020.step(on(6, 3, 14), MEETING)
    assert (moved.state, moved.note) == ("open", "10.00-13.30, Videomøte")
    assert round_2020.step(on(6, 9, 10), MEETING).state == "open"
    done = round_2020.step(on(6, 9, 14), MEETING)
    assert (done.state, done.note) == ("done", "7 attended")
    assert done.bodies["tromso-sekretariat"] == "absent"
    assert done.bodies["bergen-sekretariat"] == "attended"

    # The reminder the working day before carried the newest compilation (version 2).
    reminders = messages(round_2020.smtp, "meeting_reminder")
    assert recipients(reminders) == sorted(MEETING_AUDIENCE)
    for r in reminders:
        assert sent_at(r) == datetime(2020, 6, 8, 9, tzinfo=OSLO)
        (name,) = attachments(msg(r))
        assert name.endswith("-v2.docx")
    updated = [
        r
        for r in messages(round_2020.smtp, "meeting_invitation")
        if subject(r).startswith(("Endret møte:", "Endra møte:"))
    ]
    assert len(updated) == len(MEETING_AUDIENCE)
    assert all(int(the_event(read_ics(r)[0])["SEQUENCE"]) == 1 for r in updated)


def test_round_circulation_not_started_then_open_then_closed_with_each_body_after_the_end(
    round_2020: Round,
) -> None:
    assert round_2020.step(on(6, 10, 9), CIRCULATION).state == "not started"
    opened = round_2020.step(on(6, 10, 14), CIRCULATION)
    assert opened.state == "open"
    assert opened.note == "draft version 1: utkast-retningslinjer-sekretariatene.docx"
    assert set(opened.bodies.values()) == {"pending"}
    assert recipients(messages(round_2020.smtp, "circulation")) == sorted(STEERING_GROUPS)

    # Not every steering group has treated the draft by the end of the round, nor in
    # September: open on the last day; once the round has ended (30 June) the step is closed,
    # as nothing more is sent, and still says where each body stands (two have it on the
    # agenda after the summer).
    for moment, state in (
        (on(6, 30, 14), "open"),
        (on(7, 1, 9), "closed"),
        (on(9, 3, 9), "closed"),
    ):
        step = round_2020.step(moment, CIRCULATION)
        assert step.state == state
        assert (step.answered, step.expected) == (5, 9)
    final = round_2020.step(on(9, 3, 9), CIRCULATION).bodies
    assert final["nord-jaeren-styringsgruppe"] == "on the agenda 2020-08-27"
    assert final["grenland-styringsgruppe"] == "on the agenda 2020-09-02"
    assert final["buskerudbyen-styringsgruppe"] == "pending, reminded 1 time(s)"
    assert final["trondheim-styringsgruppe"].startswith("treated 2020-06-19")


def test_round_treatment_reminders_go_to_pending_bodies_on_24_june_only(round_2020: Round) -> None:
    """Sent on Wednesday 10 June: 10 working days on is Wednesday 24 June. The second would be
    due on 1 July, after the round ends (30 June), and is never sent."""
    reminders = messages(round_2020.smtp, "treatment_reminder")
    assert {sent_at(r) for r in reminders} == {datetime(2020, 6, 24, 9, tzinfo=OSLO)}
    # On 24 June Nord-Jæren had not yet reported its agenda (25 June); Buskerudbyen and
    # Tromsø never report; every other group had it on its agenda or had treated it.
    assert recipients(reminders) == sorted(
        steering_group(a) for a in ("nord-jaeren", "buskerudbyen", "tromso")
    )
    for r in reminders:
        assert "10. juni 2020" in text(r)


def test_round_sends_nothing_on_weekends_holidays_or_after_the_end(round_2020: Round) -> None:
    for r in round_2020.smtp.received:
        when = sent_at(r)
        assert is_working_day(when.date()), (when, subject(r))
        assert time(9) <= when.time() < time(17), (when, subject(r))
        assert when.date() <= date(2020, 6, 30), (when, subject(r))
    ids = [r.message_id for r in round_2020.smtp.received]
    assert len(ids) == len(set(ids))
