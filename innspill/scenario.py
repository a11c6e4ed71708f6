"""The 2020 round's simulated world: who answers when, an extension, the meeting, the draft,
and how the steering groups treat it. Used by the demo and by the tests."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

from sqlalchemy.engine import Engine

from innspill.answers import register_answer
from innspill.deadlines import change_deadline
from innspill.definition import MeetingStep, ProcessDefinition
from innspill.documents import register_draft
from innspill.processes import store_definition
from innspill.treatment import register_attendance, set_treatment
from innspill.workdays import local_datetime
from models import TreatmentState
from models.db import session_scope

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
        "buskerudbyen-sekretariat": (date(2020, 4, 29), time(12, 0)),
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
        "nedre-glomma-sekretariat": (date(2020, 6, 4), time(10, 10)),
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
DECISION = "Styringsgruppen slutter seg til utkastet til retningslinjer for sekretariatet."


@dataclass
class Happening:
    """Something the simulated world does at a moment."""

    at: datetime
    label: str
    apply: Callable[[Engine, ProcessDefinition], None]


def _answer(step: str, who: str, at: datetime) -> Callable[[Engine, ProcessDefinition], None]:
    def apply(engine: Engine, d: ProcessDefinition) -> None:
        request = d.step(step)
        with session_scope(engine) as session:
            texts = {
                t.id: f"Innspill fra {d.participant(who).area} om {t.title.lower()}."
                for t in d.themes_of(request)  # type: ignore[arg-type]
            }
            register_answer(
                session,
                d,
                step_id=step,
                participant_id=who,
                texts=texts,
                at=at,
                channel="registered",
                registered_by="demo",
            )

    return apply


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
                decision=DECISION if decided else "",
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
