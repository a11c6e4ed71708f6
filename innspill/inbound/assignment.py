"""Before a held message is assigned as a participant's answer: what it would replace, what
needs an explicit confirmation, and what the case officer should know (in bokmål: the dashboard
and `innspill inbox assign` show these sentences as they are); the same for an answer
registered by hand.

An auto-reply or a delivery report is no answer unless a person says so (`--confirm`, a
checkbox), nor is a message that arrived after the step closed. Versions are ordered by when
they were received, never by when they were assigned (models.answer): a message that came
before the participant's latest answer becomes an earlier version, and the latest still counts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session

from innspill.documents.store import current_answer
from innspill.errors import InnspillError
from innspill.i18n import N_, Labels, _
from innspill.inbound.parse import InboundKind, parse_mail
from innspill.models import Answer, InboundMessage
from innspill.process.deadlines import closes_on, effective_deadlines
from innspill.process.definition import ProcessDefinition, RequestStep
from innspill.process.nbformat import nbdate, nbtime
from innspill.process.workdays import OSLO, end_of_day

#: How much of a text the preview shows.
PREVIEW_LINES = 4
PREVIEW_CHARS = 300

#: Kinds of held mail that are no answer unless a person confirms it, and why (said in the
#: language being rendered: innspill.i18n; bokmål on the command line).
NOT_AN_ANSWER = Labels(
    {
        InboundKind.AUTO_REPLY.value: N_(
            "Meldingen er et automatisk svar (for eksempel et fraværsvarsel), ikke et innspill."
        ),
        InboundKind.BOUNCE.value: N_(
            "Meldingen er en returmelding (e-post som ikke kom fram), ikke et innspill."
        ),
    }
)


class AssignRefused(InnspillError):
    """An assignment that needs an explicit confirmation; `norwegian` says why, in bokmål."""

    def __init__(self, message: str, code: str, norwegian: str):
        super().__init__(message)
        self.code = code
        self.norwegian = norwegian


def when(moment: datetime) -> str:
    """`30. mars 2020 kl. 09.05`, in Oslo time."""
    local = moment.astimezone(OSLO)
    return f"{nbdate(local.date())} {nbtime(local)}"


def first_lines(text: str) -> str:
    """The first few non-empty lines, shortened: enough to recognise a text."""
    lines = [line.strip() for line in text.splitlines() if line.strip()][:PREVIEW_LINES]
    out = " / ".join(lines)
    return out if len(out) <= PREVIEW_CHARS else out[: PREVIEW_CHARS - 1].rstrip() + "…"


@dataclass(frozen=True)
class Version:
    """An answer version as the preview shows it."""

    version: int
    received_at: datetime
    channel: str
    first_lines: str


@dataclass
class Preview:
    """What assigning a held message to one participant's step would do."""

    message_id: int
    kind: str
    received_at: datetime
    first_lines: str  # of the message's own text
    files: list[str]
    current: Version | None  # the participant's answer that counts now, if any
    becomes_latest: bool  # False: it came before `current`, which keeps counting
    closes: date  # the last day the step takes the participant's answers
    received_after_close: bool
    registered_after_close: bool  # assigned now, after the step closed
    process_ended: bool
    confirm: list[str] = field(default_factory=list)  # why it needs a confirmation (bokmål)
    notes: list[str] = field(default_factory=list)  # what it does, and warnings (bokmål)

    @property
    def needs_confirmation(self) -> bool:
        return bool(self.confirm)


def _version(answer: Answer) -> Version:
    texts = json.loads(answer.text_json or "{}")
    text = "\n".join(t for t in texts.values() if isinstance(t, str) and t.strip())
    return Version(answer.version, answer.received_at, answer.channel, first_lines(text))


def preview(
    session: Session,
    row: InboundMessage,
    definition: ProcessDefinition,
    *,
    step_id: str,
    participant_id: str,
    now: datetime,
) -> Preview:
    """What assigning `row` to the participant's answer to the step would do, and what needs
    a confirmation first."""
    step = definition.step(step_id)
    if not isinstance(step, RequestStep):
        raise InnspillError(f"step '{step_id}' takes no answers")
    parsed = parse_mail(row.raw)
    deadline = effective_deadlines(session, definition).get((step.id, participant_id))
    closes = closes_on(definition, step, deadline or step.deadline)
    closed = end_of_day(closes)
    found = current_answer(session, definition.id, step.id, participant_id)
    current = _version(found) if found is not None else None
    shown = Preview(
        message_id=row.id or 0,
        kind=row.kind,
        received_at=row.received_at,
        first_lines=first_lines(parsed.text),
        files=[f.filename for f in parsed.files],
        current=current,
        becomes_latest=current is None or row.received_at >= current.received_at,
        closes=closes,
        received_after_close=row.received_at >= closed,
        registered_after_close=now >= closed,
        process_ended=now >= end_of_day(definition.process.ends),
    )
    if row.kind in NOT_AN_ANSWER:
        shown.confirm.append(NOT_AN_ANSWER[row.kind])
    if shown.received_after_close:
        shown.confirm.append(
            f"Meldingen kom inn {when(row.received_at)}, etter at steget ble stengt "
            f"({nbdate(closes)})."
        )
    shown.notes += _notes(shown)
    return shown


def _notes(shown: Preview) -> list[str]:
    notes: list[str] = []
    current = shown.current
    if current is None:
        notes.append(_("Deltakeren har ikke svart på steget før: meldingen blir svaret."))
    elif shown.becomes_latest:
        notes.append(
            _(
                "Meldingen blir gjeldende svar og erstatter versjon %(version)s, mottatt "
                "%(when)s: «%(lines)s». Den versjonen tas vare på.",
                version=current.version,
                when=when(current.received_at),
                lines=current.first_lines,
            )
        )
    else:
        notes.append(
            _(
                "Meldingen ble mottatt %(when)s, før versjon %(version)s (mottatt %(then)s), "
                "som fortsatt er gjeldende svar. Meldingen lagres som en tidligere versjon og "
                "kommer ikke med i sammenstillingen.",
                when=when(shown.received_at),
                version=current.version,
                then=when(current.received_at),
            )
        )
    if shown.registered_after_close and not shown.received_after_close:
        notes.append(
            _(
                "Steget ble stengt %(date)s. Svaret registreres etter det, og blir merket slik.",
                date=nbdate(shown.closes),
            )
        )
    if shown.process_ended:
        notes.append(
            _(
                "Prosessen er avsluttet: det sendes ingen kvittering, og sammenstillingen lages "
                "ikke på nytt."
            )
        )
    return notes


def check(shown: Preview, *, confirm: bool) -> None:
    """Refuse what needs a confirmation that was not given, saying why in bokmål."""
    if shown.confirm and not confirm:
        reasons = " ".join(shown.confirm)
        code = "confirm_" + (shown.kind if shown.kind in NOT_AN_ANSWER else "after_close")
        raise AssignRefused(
            f"message {shown.message_id} needs an explicit confirmation to become an answer: "
            f"{reasons}",
            code,
            _("%(why)s Bekreft at den likevel skal bli svaret.", why=reasons),
        )


def registration_notes(
    session: Session, definition: ProcessDefinition, answer: Answer, *, now: datetime
) -> list[str]:
    """What the case officer should know about an answer just registered by hand (bokmål):
    that it came before the answer that counts, or was registered after the step closed."""
    step = definition.step(answer.step_key)
    assert isinstance(step, RequestStep)  # register_answer took it
    notes: list[str] = []
    current = current_answer(session, definition.id, step.id, answer.participant_key)
    if current is not None and current.id != answer.id:
        notes.append(
            _(
                "Svaret ble mottatt %(when)s, før versjon %(version)s (mottatt %(then)s), som "
                "fortsatt er gjeldende svar.",
                when=when(answer.received_at),
                version=current.version,
                then=when(current.received_at),
            )
        )
    deadline = effective_deadlines(session, definition).get((step.id, answer.participant_key))
    closes = closes_on(definition, step, deadline or step.deadline)
    if (answer.registered_at or now) >= end_of_day(closes):
        notes.append(
            _(
                "Steget ble stengt %(date)s: svaret er registrert etter det og er merket slik.",
                date=nbdate(closes),
            )
        )
    return notes
