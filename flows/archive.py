"""The tick's last task: archival copies (PDF/A) of what is new, a bounded batch at a time."""

from __future__ import annotations

import asyncio
from datetime import datetime

from prefect import get_run_logger, task
from prefect.cache_policies import NONE

from innspill.archival.convert import convert_pending
from innspill.archival.office import Tools
from innspill.flows.runtime import database, settings, wall_clock


@task(name="archive-copies", retries=1, retry_delay_seconds=30, cache_policy=NONE)
async def archive_copies(now: datetime) -> dict[str, int]:
    """Convert up to INNSPILL_ARCHIVE_BATCH records that lack an archival copy. It runs after
    sending, so a tick that queues thousands of letters sends them first; what is left over
    waits for the next tick. A failed conversion is recorded (and shown), not raised."""
    s = settings()
    if s.archive_batch == 0:  # left to `innspill archive convert` (docs/archive.md)
        return {"made": 0, "failed": 0}
    report = await asyncio.to_thread(
        convert_pending,
        database(),
        now=now,
        clock=wall_clock,
        limit=s.archive_batch,
        tools=Tools.from_settings(s),
    )
    logger = get_run_logger()
    for line in report.failed[:20]:
        logger.warning("archival copy: %s", line)
    return {"made": report.made, "failed": len(report.failed)}
