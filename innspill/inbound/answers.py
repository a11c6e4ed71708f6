"""Register answers (innspill): each one is a new version; the first one stops reminders."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from sqlmodel import Session, func, select

from innspill.documents.files import inspect, safe_filename
from innspill.errors import InnspillError
from innspill.events import record_event
from innspill.inbound.cleaning import cleaned_texts
from innspill.journal.record import record_answer
from innspill.models import Answer, AnswerAttachment
from innspill.process.definition import ProcessDefinition, RequestStep
from innspill.process.workdays import OSLO


def register_answer(
    session: Session,
    definition: ProcessDefinition,
    *,
    step_id: str,
    participant_id: str,
    texts: dict[str, str],
    at: datetime,
    channel: str = "registered",
    registered_by: str = "",
    registered_at: datetime | None = None,
    clean: bool = True,
    now: datetime | None = None,
) -> Answer:
    """Store a new version of a participant's answer to a request step, received `at`, and
    journal it (when the process keeps a journal) as registered at `now` (default: `at`).

    `registered_at` is when it became an answer (by default `at`; later for a held message
    assigned by a person). With `clean` (the form, by hand) each theme's text is cleaned like
    a mailed reply's and the text as given is kept beside it; a mailed reply's text comes
    cleaned already (innspill.inbound.text.reply_text).
    """
    try:
        step = definition.step(step_id)
    except KeyError:
        raise InnspillError(f"process '{definition.id}' has no step '{step_id}'") from None
    if not isinstance(step, RequestStep):
        raise InnspillError(
            f"step '{step_id}' is a {step.kind} step; only request steps take answers"
        )
    if participant_id not in {p.id for p in definition.audience(step_id)}:
        raise InnspillError(f"'{participant_id}' is not asked for input in step '{step_id}'")
    received = at.astimezone(OSLO).date()
    if received < step.opens:
        # Nobody could answer a request that had not been made: a date typed wrong, or a
        # held message from before the round assigned to it.
        raise InnspillError(
            f"received {received}, before step '{step_id}' opened ({step.opens}): an answer "
            "cannot come before the request"
        )
    themes = [t.id for t in definition.themes_of(step)]
    unknown = set(texts) - set(themes) - {""}  # "": text not written theme by theme
    if unknown:
        raise InnspillError(
            f"unknown theme(s) for step '{step_id}': {', '.join(sorted(unknown))} "
            f"(the step's themes: {', '.join(themes)})"
        )
    if not any(text.strip() for text in texts.values()):
        raise InnspillError("the answer is empty: give the text for at least one theme")
    given = texts
    if clean:
        texts = cleaned_texts(texts)
    latest = session.exec(
        select(func.max(Answer.version)).where(
            Answer.process_id == definition.id,
            Answer.step_key == step_id,
            Answer.participant_key == participant_id,
        )
    ).one()
    answer = Answer(
        process_id=definition.id,
        step_key=step_id,
        participant_key=participant_id,
        version=(latest or 0) + 1,
        received_at=at,
        registered_at=registered_at or at,
        channel=channel,
        registered_by=registered_by,
        text_json=json.dumps(texts, ensure_ascii=False),
        raw_json=json.dumps(given, ensure_ascii=False) if texts != given else "",
    )
    session.add(answer)
    record_answer(session, definition, answer, now=now or at)
    record_event(
        session,
        definition.id,
        at,
        "answer_received",
        step=step_id,
        participant=participant_id,
        detail=f"version {answer.version} by {channel}",
        by=registered_by,
    )
    return answer


#: Limits on files handed in with an answer (by mail or through the form).
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_FILES = 10


def attach_file(
    session: Session, answer: Answer, *, filename: str, data: bytes
) -> AnswerAttachment:
    """Keep a file with an answer; only PDF, DOCX and ODT, told by their content."""
    content_type, unsafe = inspect(data)
    if unsafe is not None:
        raise InnspillError(f"{filename}: {unsafe}")
    if content_type is None:
        raise InnspillError(f"{filename}: only PDF, Word (.docx) and OpenDocument (.odt) files")
    if len(data) > MAX_FILE_BYTES:
        raise InnspillError(f"{filename}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    if answer.id is None:
        session.flush()
    assert answer.id is not None  # the flush gave it one
    row = AnswerAttachment(
        answer_id=answer.id,
        filename=safe_filename(filename, content_type),
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
    )
    session.add(row)
    return row
