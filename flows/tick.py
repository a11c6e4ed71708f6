"""The tick: each open request step plans in its own flow, then one task sends the outbox."""

from __future__ import annotations

from prefect import flow, get_run_logger, task

from flows.runtime import engine_for, parse_at, settings, transport
from innspill.definition import RequestStep
from innspill.engine import tick_process
from innspill.outbox import dispatch
from innspill.processes import all_definitions, get_definition
from innspill.workdays import end_of_day, local_datetime
from models.db import session_scope


@task(retries=2, retry_delay_seconds=10)
def queue_step(process_id: str, step_id: str, at: str | None) -> dict[str, int]:
    """Plan one step and store its due messages in the outbox (idempotent: safe to retry)."""
    s = settings()
    engine = engine_for(s.resolved_database_url)
    with session_scope(engine) as session:
        definition = get_definition(session, process_id)
    report = tick_process(
        engine, definition, now=parse_at(at), reply_to=s.reply_to, steps={step_id}
    )
    return {"queued": len(report.queued), "skipped": len(report.skipped)}


@task(retries=2, retry_delay_seconds=30)
async def send_outbox(at: str | None) -> dict[str, object]:
    """Send every pending message; a crash or retry resends only unmarked ones."""
    s = settings()
    report = await dispatch(
        engine_for(s.resolved_database_url),
        transport(),
        now=parse_at(at),
        max_attempts=s.smtp_max_attempts,
    )
    logger = get_run_logger()
    for error in report.errors[:20]:
        logger.warning("mail: %s", error)
    if report.stopped:
        logger.error("sending stopped: %s", report.stopped)
    return {
        "sent": report.sent,
        "deferred": report.deferred,
        "failed": report.failed,
        "stopped": report.stopped,
    }


@flow(name="request-step", log_prints=True)
def request_step_flow(process_id: str, step_id: str, at: str | None = None) -> dict[str, int]:
    """A request for input: invitations, reminders, overdue reminders, deadline notices."""
    return queue_step(process_id, step_id, at)


@flow(name="tick", log_prints=True)
async def tick_flow(at: str | None = None) -> dict[str, object]:
    """Run every open step of every loaded process, then send what they queued."""
    s = settings()
    now = parse_at(at)
    engine = engine_for(s.resolved_database_url)
    with session_scope(engine) as session:
        definitions = all_definitions(session)
    steps = {}
    for definition in definitions:
        for step in definition.steps:
            open_now = (
                isinstance(step, RequestStep)
                and local_datetime(step.opens, step.reminders.send_time) <= now
                and now < end_of_day(definition.process.ends)
            )
            if open_now:
                steps[f"{definition.id}/{step.id}"] = request_step_flow(definition.id, step.id, at)
    sent = await send_outbox(at)
    return {"steps": steps, "mail": sent}
