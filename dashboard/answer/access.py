"""What a participant's link opens: the token checked, the step, the deadline and when the
form closes, and the answer so far (no sign-in; opening writes nothing)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session, col, select

from innspill.dashboard.answer.texts import language_of, wording
from innspill.errors import InnspillError
from innspill.inbound.answers import MAX_FILE_BYTES, MAX_FILES
from innspill.models import AccessToken, Answer, AnswerAttachment, TokenPurpose
from innspill.process.attachments import step_file_sizes
from innspill.process.deadlines import deadlines_in
from innspill.process.definition import Participant, ProcessDefinition, RequestStep, Sender, Theme
from innspill.process.loading import get_definition
from innspill.process.workdays import end_of_day
from innspill.tokens import TOKEN_PATTERN, resolve, token_hash

#: The longest text for one theme (about 40 pages).
MAX_TEXT_CHARS = 100_000


# --- what a token opens ---------------------------------------------------------------------


@dataclass(frozen=True)
class FileInfo:
    id: int
    filename: str
    size: int
    title: str = ""  # what the process file calls one of our files, in the reader's language

    @property
    def size_text(self) -> str:
        if self.size < 1024 * 1024:
            return f"{max(1, round(self.size / 1024))} kB"
        return f"{self.size / (1024 * 1024):.1f} MB".replace(".", ",")


@dataclass
class Opened:
    """One participant's answer to one step, as the form shows it."""

    token: str
    definition: ProcessDefinition
    step: RequestStep
    participant: Participant
    themes: list[Theme]
    deadline: date  # in effect (innspill.process.deadlines)
    closes: date  # late answers are taken until this day ends
    late: bool  # past the deadline: an answer saved now is marked late
    closed: bool  # past `closes`: read-only
    latest: Answer | None
    texts: dict[str, str]
    files: list[FileInfo] = field(default_factory=list)
    # The files we sent with the step's invitation (id = their number, from 1, in the link).
    step_files: list[FileInfo] = field(default_factory=list)
    # The deadline as set, when it fell on a weekend or holiday and runs to `deadline`.
    written_deadline: date | None = None

    @property
    def sender(self) -> Sender:
        return self.definition.sender

    @property
    def language(self) -> str:
        """The participant's language, as far as the form has it."""
        return language_of(self.participant.language)


@dataclass(frozen=True)
class Refused:
    """Why a token opens nothing: 404 (unknown) or 403 (expired), with whom to ask."""

    status: int
    title: str
    detail: str
    sender: Sender | None = None
    language: str = "nb"


def refusal(status: int, key: str, language: str, sender: Sender | None = None) -> Refused:
    """A refusal in the participant's language (bokmål when we cannot tell who it is)."""
    words = wording(language)
    detail = words[f"{key}_detail"].format(
        max_files=MAX_FILES,
        max_mb=MAX_FILE_BYTES // (1024 * 1024),
        limit=f"{MAX_TEXT_CHARS:,}".replace(",", " "),
    )
    return Refused(status, words[key], detail, sender, language_of(language))


INVALID = refusal(404, "invalid", "nb")


def _latest(session: Session, row: AccessToken) -> Answer | None:
    return session.exec(
        select(Answer)
        .where(
            Answer.process_id == row.process_id,
            Answer.step_key == row.step_key,
            Answer.participant_key == row.participant_key,
        )
        # the version that counts: received last (a held message assigned later may be older)
        .order_by(col(Answer.received_at).desc(), col(Answer.version).desc())
    ).first()


def _files(session: Session, answer: Answer | None) -> list[FileInfo]:
    if answer is None:
        return []
    rows = session.exec(
        select(AnswerAttachment.id, AnswerAttachment.filename, AnswerAttachment.size)
        .where(AnswerAttachment.answer_id == answer.id)
        .order_by(col(AnswerAttachment.id))
    ).all()
    return [FileInfo(int(i or 0), name, size) for i, name, size in rows]


def open_token(session: Session, token: str, *, now: datetime) -> Opened | Refused:
    """What the token opens, read only: it never writes to the database."""
    if not TOKEN_PATTERN.fullmatch(token):
        return INVALID
    row = resolve(session, token, purpose=TokenPurpose.FORM, now=now)
    if row is None:
        stale = session.exec(
            select(AccessToken).where(AccessToken.token_hash == token_hash(token))
        ).first()
        if stale is None or stale.purpose != TokenPurpose.FORM:
            return INVALID
        sender: Sender | None = None
        language = "nb"
        try:
            expired = get_definition(session, stale.process_id)
            sender = expired.sender
            language = expired.participant(stale.participant_key).language
        except (InnspillError, KeyError):
            pass
        return refusal(403, "expired", language, sender)
    try:
        definition = get_definition(session, row.process_id)
        step = definition.step(row.step_key)
    except (InnspillError, KeyError):
        return INVALID
    if not isinstance(step, RequestStep):
        return INVALID
    audience = {p.id: p for p in definition.audience(step.id)}
    participant = audience.get(row.participant_key)
    if participant is None:
        return INVALID
    # The form speaks the participant's language, the process file's texts included.
    definition = definition.in_language(participant.language)
    step = definition.step(step.id)
    assert isinstance(step, RequestStep)
    # One contract for late answers (innspill.process.deadlines): taken until the step
    # closes, even when a deadline was moved past the closing day.
    book = deadlines_in(session, definition)
    deadline = book.in_effect[(step.id, participant.id)]
    closes = book.closes[(step.id, participant.id)]
    latest = _latest(session, row)
    # what they typed (before greetings and signatures were cleaned away), to go on from
    texts: dict[str, str] = json.loads(latest.raw_json or latest.text_json) if latest else {}
    titles = {
        ref.sent_filename: str(ref.caption)
        for ref in step.attachments
        if getattr(ref, "caption", None)
    }
    return Opened(
        token=token,
        definition=definition,
        step=step,
        participant=participant,
        themes=definition.themes_of(step),
        deadline=deadline,
        written_deadline=book.written.get((step.id, participant.id)),
        closes=closes,
        late=now >= end_of_day(deadline),
        closed=now >= end_of_day(closes),
        latest=latest,
        texts={k: v for k, v in texts.items() if isinstance(v, str)},
        files=_files(session, latest),
        step_files=[
            FileInfo(n, name, size, titles.get(name, ""))
            for n, (name, size) in enumerate(step_file_sizes(session, definition.id, step.id), 1)
        ],
    )
