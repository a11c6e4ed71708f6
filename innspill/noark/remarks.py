"""Facts about the case that are not documents, as remarks (merknad) on the saksmappe: each
body's treatment of the circulated draft, who attended a meeting, and the calendar replies.
The texts are in bokmål, as the archive reads them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from innspill.models import Attendance, CalendarReply, Participant, Step, Treatment
from innspill.models.treatment import TreatmentState
from innspill.process.nbformat import nbdate

REPLIES = {"accepted": "godtatt", "declined": "avslått", "tentative": "foreløpig"}


@dataclass(frozen=True)
class Remark:
    text: str
    kind: str  # merknadstype (free text)
    at: datetime
    by: str


def remarks(session: Session, process_id: str) -> list[Remark]:
    """The process's remarks, oldest first."""
    names = dict(
        session.exec(
            select(Participant.key, Participant.name).where(Participant.process_id == process_id)
        ).all()
    )
    steps = dict(
        session.exec(select(Step.key, Step.title).where(Step.process_id == process_id)).all()
    )
    out: list[Remark] = []
    for t in session.exec(
        select(Treatment).where(Treatment.process_id == process_id).order_by(col(Treatment.id))
    ).all():
        who, step = names.get(t.participant_key, t.participant_key), steps.get(t.step_key, "")
        if t.state == TreatmentState.TREATED.value:
            when = f" {nbdate(t.decided_on)}" if t.decided_on else ""
            decision = f": {t.decision}" if t.decision.strip() else ""
            text = f"{who} har behandlet «{step}»{when}{decision}"
        elif t.state == TreatmentState.ON_AGENDA.value and t.meeting_date:
            text = f"{who} har «{step}» på sakskartet {nbdate(t.meeting_date)}"
        else:
            continue
        out.append(Remark(text, "Behandling", t.updated_at, t.updated_by or "innspill"))
    for a in session.exec(
        select(Attendance).where(Attendance.process_id == process_id).order_by(col(Attendance.id))
    ).all():
        who, step = names.get(a.participant_key, a.participant_key), steps.get(a.step_key, "")
        text = f"{who} {'møtte' if a.attended else 'møtte ikke'} på «{step}»"
        out.append(Remark(text, "Oppmøte", a.registered_at, a.registered_by or "innspill"))
    for r in session.exec(
        select(CalendarReply)
        .where(CalendarReply.process_id == process_id)
        .order_by(col(CalendarReply.id))
    ).all():
        who, step = names.get(r.participant_key, r.participant_key), steps.get(r.step_key, "")
        answer = REPLIES.get(r.partstat, r.partstat)
        text = f"{who} svarte på kalenderinvitasjonen til «{step}»: {answer}"
        out.append(Remark(text, "Kalendersvar", r.received_at, "innspill"))
    return sorted(out, key=lambda r: r.at)
