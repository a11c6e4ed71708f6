"""The one place that writes to the event log."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from innspill.models import Event


def record_event(
    session: Session,
    process_id: str,
    at: datetime,
    kind: str,
    *,
    step: str | None = None,
    participant: str | None = None,
    detail: str = "",
    key: str | None = None,
    by: str = "",
) -> None:
    """Add an event to the session; a `key` makes it unique (recording it twice fails).

    `by` is who did it (a dashboard user or the CLI's operator); empty for the engine."""
    session.add(
        Event(
            process_id=process_id,
            at=at,
            kind=kind,
            step_key=step,
            participant_key=participant,
            detail=detail,
            key=key,
            actor=by,
        )
    )
