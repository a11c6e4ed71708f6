"""Reading the mailbox as a flow: every new message is imported once, then marked done."""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import flow, get_run_logger, task

from flows.runtime import engine_for, settings
from innspill.mail_in import import_mail
from innspill.mailbox import Fetched, fetch_new, source_name
from models.db import session_scope


@task(retries=2, retry_delay_seconds=60)
def fetch_and_import(limit: int | None = None) -> dict[str, object]:
    """Import new mail; a message whose import fails stays unmarked for the next run."""
    s = settings()
    engine = engine_for(s.resolved_database_url)
    source = source_name(s)
    counts: dict[str, int] = {}

    def handle(fetched: Fetched) -> None:
        # The flow is where the wall clock enters; import_mail gets `now` passed in.
        now = datetime.now(UTC)
        with session_scope(engine) as session:
            result = import_mail(
                session,
                fetched.raw,
                source=source,
                uid=fetched.uid,
                received_at=fetched.received_at,
                now=now,
            )
        status = result.message.status.value if result.new else "already imported"
        counts[status] = counts.get(status, 0) + 1

    report = fetch_new(s, handle, limit=limit)
    logger = get_run_logger()
    for error in report.failed:
        logger.warning("not imported, left for the next run: %s", error)
    return {
        "source": source,
        "imported": counts,
        "failed": len(report.failed),
        "remaining": report.remaining,
    }


@flow(name="fetch-mail")
def fetch_mail_flow(limit: int | None = None) -> dict[str, object]:
    """Answers by mail, auto-replies and bounces from the configured IMAP folder."""
    return fetch_and_import(limit)
