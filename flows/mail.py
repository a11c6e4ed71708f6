"""Reading the mailbox as a flow: every new message is imported once, then marked done."""

from __future__ import annotations

from prefect import flow, get_run_logger, task

from innspill.errors import RunFailed
from innspill.flows.runtime import database, explain, settings, wall_clock
from innspill.inbound.fetching import fetch_into


@task(retries=2, retry_delay_seconds=60)
def fetch_and_import(limit: int | None = None) -> dict[str, object]:
    """Import new mail; a message whose import fails stays unmarked for the next run."""
    s = settings()
    report, counts = fetch_into(database(), s, clock=wall_clock, limit=limit)
    logger = get_run_logger()
    for error in report.failed:
        logger.warning("not imported, left for the next run: %s", error)
    return {
        "source": report.source,
        "imported": counts,
        "failed": len(report.failed),
        "remaining": report.remaining,
    }


@flow(name="fetch-mail")
def fetch_mail_flow(limit: int | None = None) -> dict[str, object]:
    """Answers by mail, auto-replies and bounces from the configured IMAP folder."""
    try:
        return fetch_and_import(limit)
    except Exception as exc:
        raise RunFailed(f"reading the mailbox failed: {explain(exc)}") from exc
