"""endringslogg.xml: each deadline change as a change of the forfallsdato of the invitations it
moved (who changed it, when, from what to what), and the closing of the case by the export.

The schema needs at least one `endring`. A finished round always has its closing; a partial
extract of a round without deadline changes records the dispatch of its letters instead
(journalstatus «Journalført» to «Ekspedert» when the mail server took them), which is true of
every round that has sent anything.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from innspill.journal.read import DISPATCHED
from innspill.journal.record import LETTER
from innspill.models import DeadlineChange, OutboxMessage
from innspill.noark.elements import Builder, serialize
from innspill.noark.records import Post
from innspill.noark.structure import SYSTEM, Case

NS = "http://www.arkivverket.no/standarder/noark5/endringslogg"


@dataclass(frozen=True)
class Change:
    target: str  # referanseArkivenhet: a systemID
    field: str  # referanseMetadata
    at: datetime
    by: str
    before: str
    after: str


def _invitations(
    session: Session, process_id: str, posts: list[Post]
) -> dict[tuple[str, str], list[str]]:
    """(step, participant) -> the journalposts (letters' source keys) that invited them: the
    invitation's own letter, or the letter that carried it (steps opening the same day)."""
    journaled = {p.entry.source_key for p in posts if p.entry.source == LETTER}
    out: dict[tuple[str, str], list[str]] = defaultdict(list)
    rows = session.exec(
        select(
            OutboxMessage.key,
            OutboxMessage.step_key,
            OutboxMessage.participant_key,
            OutboxMessage.carried_by,
        )
        .where(OutboxMessage.process_id == process_id, OutboxMessage.kind == "invitation")
        .order_by(col(OutboxMessage.id))
    ).all()
    for key, step, participant, carrier in rows:
        letter = carrier or key
        if letter in journaled and letter not in out[(step, participant)]:
            out[(step, participant)].append(letter)
    return out


def deadline_changes(
    session: Session, case: Case, posts: list[Post]
) -> tuple[list[Change], dict[str, date]]:
    """The changes, and each invitation's forfallsdato as it stands after them (by the
    letter's source key): the journalpost shows the current value, the log the history."""
    invited = _invitations(session, case.process_id, posts)
    due = {p.entry.source_key: p.entry.due for p in posts if p.entry.source == LETTER}
    changes = session.exec(
        select(DeadlineChange)
        .where(DeadlineChange.process_id == case.process_id)
        .order_by(col(DeadlineChange.changed_at), col(DeadlineChange.id))
    ).all()
    out: list[Change] = []
    current: dict[str, date] = {}
    for change in changes:
        for (step, participant), letters in invited.items():
            if step != change.step_key:
                continue
            if change.participant_key is not None and participant != change.participant_key:
                continue
            for letter in letters:
                before = current.get(letter) or due.get(letter)
                if before == change.deadline:
                    continue
                current[letter] = change.deadline
                out.append(
                    Change(
                        case.id("journalpost", LETTER, letter),
                        "forfallsdato",
                        change.changed_at,
                        change.changed_by or SYSTEM,
                        before.isoformat() if before else "ingen",
                        change.deadline.isoformat(),
                    )
                )
    return out, current


def closing(case: Case) -> Change:
    """The case closed (saksstatus) when the finished round is exported."""
    return Change(
        case.id("saksmappe"), "saksstatus", case.closed, case.by, "Under behandling", "Avsluttet"
    )


def dispatches(case: Case, posts: list[Post]) -> list[Change]:
    """Each letter's journalstatus as it became dispatched (the fallback of a partial extract)."""
    return [
        Change(
            case.id("journalpost", p.entry.source, p.entry.source_key),
            "journalstatus",
            p.entry.sent_at,
            SYSTEM,
            "Journalført",
            "Ekspedert",
        )
        for p in posts
        if p.entry.dispatch == DISPATCHED and p.entry.sent_at is not None
    ]


def endringslogg(changes: list[Change]) -> bytes:
    if not changes:
        raise ValueError("endringslogg.xml needs at least one change")
    b = Builder(NS)
    root = b.root("endringslogg", "endringslogg.xsd")
    for c in changes:
        node = b.add(root, "endring")
        b.fields(
            node,
            ("referanseArkivenhet", c.target),
            ("referanseMetadata", c.field),
            ("endretDato", c.at),
            ("endretAv", c.by),
            ("tidligereVerdi", c.before),
            ("nyVerdi", c.after),
        )
    return serialize(root)
