"""The 2020 round's simulated world: who answers when, an extension, the meeting, the draft,
and how the steering groups treat it. Used by the demo and by the tests."""

from __future__ import annotations

import email
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from email.message import EmailMessage
from email.policy import default
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from innspill.documents.store import register_draft
from innspill.documents.treatment import register_attendance, set_treatment
from innspill.inbound.answers import register_answer
from innspill.inbound.intake import import_mail
from innspill.models import OutboxMessage, TreatmentState
from innspill.models.db import session_scope
from innspill.process.deadlines import change_deadline
from innspill.process.definition import MeetingStep, ProcessDefinition, RequestStep
from innspill.process.loading import store_definition
from innspill.process.nbformat import nbdate
from innspill.process.workdays import local_datetime

Moment = tuple[date, time]

# Who answers when (local time), per request step; None never answers.
ANSWERS: dict[str, dict[str, Moment | None]] = {
    "innspill-oppdrag": {
        "oslo-akershus-sekretariat": (date(2020, 4, 2), time(10, 15)),
        "bergen-sekretariat": (date(2020, 4, 8), time(13, 40)),
        "nedre-glomma-sekretariat": (date(2020, 4, 16), time(11, 5)),
        "trondheim-sekretariat": (date(2020, 4, 21), time(15, 30)),
        "nord-jaeren-sekretariat": (date(2020, 4, 24), time(9, 45)),
        "kristiansand-sekretariat": (date(2020, 4, 27), time(15, 10)),
        "buskerudbyen-sekretariat": (date(2020, 4, 28), time(12, 0)),
        "grenland-sekretariat": (date(2020, 5, 7), time(10, 30)),
        "tromso-sekretariat": None,
    },
    "innspill-retningslinjer": {
        "oslo-akershus-sekretariat": (date(2020, 5, 14), time(14, 20)),
        "buskerudbyen-sekretariat": (date(2020, 5, 20), time(10, 0)),
        "bergen-sekretariat": (date(2020, 5, 25), time(16, 5)),
        "trondheim-sekretariat": (date(2020, 5, 27), time(9, 30)),
        "grenland-sekretariat": (date(2020, 5, 28), time(13, 15)),
        "nord-jaeren-sekretariat": (date(2020, 5, 29), time(11, 50)),
        "kristiansand-sekretariat": (date(2020, 6, 2), time(14, 45)),
        "nedre-glomma-sekretariat": (date(2020, 6, 3), time(10, 10)),
        "tromso-sekretariat": None,
    },
}

# Grenland asks for more time on the first step; the case officer grants a week and a half.
EXTENSION_ASKED = local_datetime(date(2020, 4, 22), time(11, 0))
EXTENSION_STEP, EXTENSION_PARTICIPANT = "innspill-oppdrag", "grenland-sekretariat"
EXTENSION_DEADLINE = date(2020, 5, 8)
EXTENSION_REASON = "Saken kommer først opp i styringsgruppen 6. mai"

# The half-day meeting is moved by an hour after the invitations went out.
MEETING_MOVED = local_datetime(date(2020, 6, 3), time(12, 0))
MEETING_NEW_TIME = (time(10, 0), time(13, 30))
ATTENDED = {
    "oslo-akershus",
    "bergen",
    "trondheim",
    "nord-jaeren",
    "kristiansand",
    "grenland",
    "nedre-glomma",
}

DRAFT_REGISTERED = local_datetime(date(2020, 6, 10), time(10, 0))

# How each steering group treats the draft: (when it is put on the agenda, meeting date),
# then (when the decision is reported, decision date); None: nothing reported.
TREATMENTS: dict[str, tuple[Moment | None, date | None, Moment | None]] = {
    "oslo-akershus": (
        (date(2020, 6, 12), time(11, 0)),
        date(2020, 6, 17),
        (date(2020, 6, 18), time(9, 30)),
    ),
    "bergen": (
        (date(2020, 6, 15), time(13, 0)),
        date(2020, 6, 23),
        (date(2020, 6, 24), time(10, 0)),
    ),
    "trondheim": (None, None, (date(2020, 6, 19), time(14, 0))),
    "nord-jaeren": ((date(2020, 6, 25), time(9, 15)), date(2020, 8, 27), None),
    "kristiansand": (
        (date(2020, 6, 16), time(10, 0)),
        date(2020, 6, 22),
        (date(2020, 6, 23), time(12, 0)),
    ),
    "buskerudbyen": (None, None, None),
    "grenland": ((date(2020, 6, 18), time(15, 0)), date(2020, 9, 2), None),
    "nedre-glomma": (
        (date(2020, 6, 17), time(9, 0)),
        date(2020, 6, 25),
        (date(2020, 6, 26), time(11, 0)),
    ),
    "tromso": (None, None, None),
}
DECISION = {
    "nb": "Styringsgruppen slutter seg til utkastet til retningslinjer for sekretariatet.",
    "nn": "Styringsgruppa sluttar seg til utkastet til retningslinjer for sekretariatet.",
}

# Part 1 asks when each steering group takes up the assignment: the meeting each names.
AGENDA_MEETINGS: dict[str, date] = {
    "oslo-akershus": date(2020, 4, 15),
    "bergen": date(2020, 4, 23),
    "nedre-glomma": date(2020, 4, 22),
    "trondheim": date(2020, 4, 28),
    "nord-jaeren": date(2020, 4, 30),
    "kristiansand": date(2020, 5, 5),
    "buskerudbyen": date(2020, 5, 12),
    "grenland": date(2020, 5, 6),  # why Grenland asks for more time (EXTENSION_REASON)
}


@dataclass
class Happening:
    """Something the simulated world does at a moment."""

    at: datetime
    label: str
    apply: Callable[[Engine, ProcessDefinition], None]


#: How each answer arrives: most by replying to the mail, some through the web form, one by
#: letter (registered by hand). Oslo's reply carries a PDF; Trondheim is away at first.
CHANNELS: dict[tuple[str, str], str] = {
    ("innspill-oppdrag", "bergen-sekretariat"): "form",
    ("innspill-oppdrag", "kristiansand-sekretariat"): "registered",
    ("innspill-retningslinjer", "buskerudbyen-sekretariat"): "form",
    ("innspill-retningslinjer", "grenland-sekretariat"): "form",
    ("innspill-retningslinjer", "kristiansand-sekretariat"): "registered",
}
WITH_PDF = ("innspill-retningslinjer", "oslo-akershus-sekretariat")
OUT_OF_OFFICE = ("trondheim-sekretariat", local_datetime(date(2020, 3, 30), time(9, 5)))


def channel_of(step: str, who: str) -> str:
    return CHANNELS.get((step, who), "email")


def _request(d: ProcessDefinition, step: str) -> RequestStep:
    request = d.step(step)
    # The scenario answers only request steps of the seed process.
    assert isinstance(request, RequestStep)
    return request


def _texts(d: ProcessDefinition, step: str, who: str) -> dict[str, str]:
    """What a participant writes, in their own written form: part 1 comments on the proposed
    assignment and says when the steering group takes it up; part 2 gives input per theme."""
    person = d.participant(who)
    nynorsk = person.language == "nn"
    own = d.in_language(person.language)
    texts = {}
    for theme in own.themes_of(_request(own, step)):
        if theme.id == "merknader":
            texts[theme.id] = (
                "Vi sluttar oss til forslaget til oppdrag. Det bør òg seie noko om korleis "
                "sekretariatet rapporterer til styringsgruppa."
                if nynorsk
                else "Vi slutter oss til forslaget til oppdrag. Det bør også si noe om hvordan "
                "sekretariatet rapporterer til styringsgruppen."
            )
        elif theme.id == "styringsgruppe":
            day = nbdate(AGENDA_MEETINGS[who.removesuffix("-sekretariat")])
            texts[theme.id] = (
                f"Styringsgruppa tek opp oppdraget som sak i møtet {day}."
                if nynorsk
                else f"Styringsgruppen tar opp oppdraget som sak i møtet {day}."
            )
        else:
            texts[theme.id] = (
                f"Innspel frå {person.area} om {theme.title.lower()}."
                if nynorsk
                else f"Innspill fra {person.area} om {theme.title.lower()}."
            )
    return texts


def _answer(step: str, who: str, at: datetime) -> Callable[[Engine, ProcessDefinition], None]:
    def apply(engine: Engine, d: ProcessDefinition) -> None:
        channel = channel_of(step, who)
        with session_scope(engine) as session:
            if channel == "email":
                reply = reply_mail(
                    session,
                    d,
                    step,
                    who,
                    at,
                    texts=_texts(d, step, who),
                    pdf=(step, who) == WITH_PDF,
                )
                import_mail(
                    session, reply, source="demo", uid=f"{step}/{who}", received_at=at, now=at
                )
                return
            register_answer(
                session,
                d,
                step_id=step,
                participant_id=who,
                texts=_texts(d, step, who),
                at=at,
                channel=channel,
                registered_by="nettskjema" if channel == "form" else "demo (brev)",
            )

    return apply


def _out_of_office(engine: Engine, d: ProcessDefinition) -> None:
    who, at = OUT_OF_OFFICE
    with session_scope(engine) as session:
        reply = reply_mail(
            session,
            d,
            "innspill-oppdrag",
            who,
            at,
            texts={},
            auto_submitted="auto-replied",
            body="Jeg er på ferie til 14. april og leser ikke e-post.",
        )
        import_mail(session, reply, source="demo", uid=f"ooo/{who}", received_at=at, now=at)


def reply_mail(
    session: Session,
    d: ProcessDefinition,
    step: str,
    who: str,
    at: datetime,
    *,
    texts: dict[str, str],
    pdf: bool = False,
    auto_submitted: str | None = None,
    body: str = "",
) -> bytes:
    """What a participant's mail program sends when they press Reply on our latest message."""
    latest = session.exec(
        select(OutboxMessage)
        .where(
            OutboxMessage.process_id == d.id,
            OutboxMessage.step_key == step,
            OutboxMessage.participant_key == who,
        )
        .order_by(col(OutboxMessage.id).desc())
    ).first()
    assert latest is not None, f"{who} has had no message about {step}"
    part = _part_number(session, latest)
    if latest.carried_by:  # the invitation came inside another step's: reply to that one
        latest = session.exec(
            select(OutboxMessage).where(OutboxMessage.key == latest.carried_by)
        ).one()
    ours = email.message_from_bytes(latest.raw, policy=default)
    participant = d.participant(who)
    reply = EmailMessage()
    reply["From"] = formataddr((participant.name, str(participant.email)))
    reply["To"] = str(ours["Reply-To"])
    reply["Subject"] = f"SV: {ours['Subject']}"
    reply["Date"] = format_datetime(at)
    reply["Message-ID"] = make_msgid(domain=str(participant.email).split("@")[1])
    reply["In-Reply-To"] = str(ours["Message-ID"])
    if auto_submitted:
        reply["Auto-Submitted"] = auto_submitted
    own = d.in_language(participant.language)
    themes = {t.id: t.title for t in own.themes_of(_request(own, step))}
    # A reply to an invitation in several parts says which part it answers, as it asks.
    parts = [f"Del {part}", ""] if part and not body else []
    if body:
        parts.append(body)
    elif participant.language == "nn":
        parts += ["Hei,", "", "Her er innspelet vårt."]
    else:
        parts += ["Hei,", "", "Her er innspillet vårt."]
    for theme, text in texts.items():
        parts += ["", themes[theme], text]
    parts += [
        "",
        "Med venleg helsing" if participant.language == "nn" else "Med vennlig hilsen",
        participant.name,
        "",
        f"{at.astimezone(ours['Date'].datetime.tzinfo):%d.%m.%Y} skrev {ours['From']}:",
    ]
    original = ours.get_body(preferencelist=("plain",))
    quoted = original.get_content() if original is not None else ""
    parts += [f"> {line}" for line in quoted.splitlines()[:20]]
    reply.set_content("\n".join(parts))
    if pdf:
        reply.add_attachment(
            DEMO_PDF,
            maintype="application",
            subtype="pdf",
            filename="innspill-oslo-og-akershus.pdf",
        )
    return reply.as_bytes()


def _part_number(session: Session, message: OutboxMessage) -> int | None:
    """The part a step is in an invitation in several parts (1, 2, ...), or None: the carrier
    is part 1, the invitations it carried follow in the order they were recorded."""
    carrier = message.carried_by or message.key
    carried = session.exec(
        select(OutboxMessage.key)
        .where(OutboxMessage.carried_by == carrier)
        .order_by(col(OutboxMessage.id))
    ).all()
    if not carried or message.kind != "invitation":
        return None
    return 1 if message.carried_by is None else list(carried).index(message.key) + 2


#: A minimal, valid one-page PDF for the demo's attachment.
DEMO_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def _extend(engine: Engine, d: ProcessDefinition) -> None:
    with session_scope(engine) as session:
        change_deadline(
            session,
            d,
            step_id=EXTENSION_STEP,
            participant_id=EXTENSION_PARTICIPANT,
            deadline=EXTENSION_DEADLINE,
            at=EXTENSION_ASKED,
            reason=EXTENSION_REASON,
            by="demo",
        )


def _move_meeting(engine: Engine, d: ProcessDefinition) -> None:
    steps = [
        s.model_copy(update={"start": MEETING_NEW_TIME[0], "end": MEETING_NEW_TIME[1]})
        if isinstance(s, MeetingStep)
        else s
        for s in d.steps
    ]
    with session_scope(engine) as session:
        store_definition(
            session,
            d.model_copy(update={"steps": steps}),
            source="demo",
            now=MEETING_MOVED,
            by="demo",
        )


def _attendance(engine: Engine, d: ProcessDefinition) -> None:
    meeting = next(s for s in d.steps if isinstance(s, MeetingStep))
    at = local_datetime(meeting.date, time(13, 45))
    with session_scope(engine) as session:
        for person in d.audience(meeting.id):
            if person.role != "secretariat":
                continue
            area = person.id.removesuffix("-sekretariat")
            register_attendance(
                session,
                d,
                step_id=meeting.id,
                participant_id=person.id,
                attended=area in ATTENDED,
                now=at,
                by="demo",
            )


def draft_document() -> bytes:
    """A small draft of the guidelines as a Word document."""
    import io

    import docx

    document = docx.Document()
    document.add_heading("Utkast til retningslinjer for sekretariatene for byvekstavtalene", 0)
    for heading in (
        "Funksjon, rolle og ansvar",
        "Kommunikasjon, representasjon og møtevirksomhet",
        "Økonomi og kostnadsstyring",
        "Organisering",
    ):
        document.add_heading(heading, 1)
        document.add_paragraph("Tekst utarbeidet på bakgrunn av innspillene og halvdagsmøtet.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _draft(engine: Engine, d: ProcessDefinition) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "utkast-retningslinjer-sekretariatene.docx"
        path.write_bytes(draft_document())
        with session_scope(engine) as session:
            register_draft(session, d, "oversendelse", path, now=DRAFT_REGISTERED, by="demo")


def _treatment(
    area: str, state: TreatmentState, at: datetime, meeting: date | None, decided: date | None
) -> Callable[[Engine, ProcessDefinition], None]:
    def apply(engine: Engine, d: ProcessDefinition) -> None:
        with session_scope(engine) as session:
            set_treatment(
                session,
                d,
                step_id="oversendelse",
                participant_id=f"{area}-styringsgruppe",
                state=state,
                now=at,
                meeting_date=meeting,
                decided_on=decided,
                decision=DECISION[d.participant(f"{area}-styringsgruppe").language]
                if decided
                else "",
                by="demo",
            )

    return apply


def happenings() -> list[Happening]:
    """The scenario, in time order."""
    out = [
        Happening(
            local_datetime(*when), f"answer {who} {step}", _answer(step, who, local_datetime(*when))
        )
        for step, people in ANSWERS.items()
        for who, when in people.items()
        if when
    ]
    out.append(Happening(OUT_OF_OFFICE[1], "out of office", _out_of_office))
    out.append(Happening(EXTENSION_ASKED, "extension", _extend))
    out.append(Happening(MEETING_MOVED, "meeting moved", _move_meeting))
    out.append(Happening(local_datetime(date(2020, 6, 9), time(13, 45)), "attendance", _attendance))
    out.append(Happening(DRAFT_REGISTERED, "draft registered", _draft))
    for area, (agenda, meeting, treated) in TREATMENTS.items():
        if agenda:
            at = local_datetime(*agenda)
            out.append(
                Happening(
                    at,
                    f"on agenda {area}",
                    _treatment(area, TreatmentState.ON_AGENDA, at, meeting, None),
                )
            )
        if treated:
            at = local_datetime(*treated)
            out.append(
                Happening(
                    at,
                    f"treated {area}",
                    _treatment(area, TreatmentState.TREATED, at, meeting, meeting or at.date()),
                )
            )
    return sorted(out, key=lambda h: h.at)
