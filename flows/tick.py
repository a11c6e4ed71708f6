"""The tick: find the steps with something due, run each in its kind's flow, send the outbox."""

from __future__ import annotations

from datetime import timedelta

from prefect import flow, get_run_logger, task

from innspill.flows.runtime import engine_for, parse_at, settings, transport, wall_clock
from innspill.models.db import session_scope
from innspill.outbound.compose import Outgoing
from innspill.outbound.outbox import dispatch
from innspill.planning.engine import tick_process
from innspill.planning.planner import plan
from innspill.planning.state import load_state
from innspill.process.loading import all_definitions, get_definition


@task
def due_steps(at: str | None) -> list[tuple[str, str, str]]:
    """(process, step, kind) of every step the planner has something for now."""
    engine = engine_for(settings().resolved_database_url)
    now = parse_at(at)
    out: list[tuple[str, str, str]] = []
    with session_scope(engine) as session:
        for definition in all_definitions(session):
            actions = plan(definition, load_state(session, definition), now)
            for step_id in dict.fromkeys(a.step_id for a in actions):
                out.append((definition.id, step_id, definition.step(step_id).kind))
    return out


@task(retries=2, retry_delay_seconds=10)
def queue_step(process_id: str, step_id: str, at: str | None) -> dict[str, int]:
    """Plan one step and record what is due (messages, documents); idempotent, safe to retry."""
    s = settings()
    engine = engine_for(s.resolved_database_url)
    with session_scope(engine) as session:
        definition = get_definition(session, process_id)
    report = tick_process(
        engine, definition, now=parse_at(at), outgoing=Outgoing.from_settings(s), steps={step_id}
    )
    return {
        "queued": len(report.queued),
        "skipped": len(report.skipped),
        "compiled": len(report.compiled),
    }


@task(retries=2, retry_delay_seconds=30)
async def send_outbox(at: str | None) -> dict[str, object]:
    """Send every pending message; a crash or retry resends only unmarked ones."""
    s = settings()
    report = await dispatch(
        engine_for(s.resolved_database_url),
        transport(),
        now=parse_at(at),
        max_attempts=s.smtp_max_attempts,
        clock=wall_clock,  # leases run on the wall clock, also when `at` simulates a time
        lease=timedelta(seconds=s.smtp_lease_seconds),
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


@flow(name="request-step")
def request_step_flow(process_id: str, step_id: str, at: str | None = None) -> dict[str, int]:
    """A request for input: invitations, reminders, overdue reminders, deadline notices."""
    return queue_step(process_id, step_id, at)


@flow(name="compilation-step")
def compilation_step_flow(process_id: str, step_id: str, at: str | None = None) -> dict[str, int]:
    """The answers compiled theme by theme (a new version for new answers), to the drafters."""
    return queue_step(process_id, step_id, at)


@flow(name="meeting-step")
def meeting_step_flow(process_id: str, step_id: str, at: str | None = None) -> dict[str, int]:
    """Meeting invitations with calendar entries, updates, cancels, the reminder the day before."""
    return queue_step(process_id, step_id, at)


@flow(name="circulation-step")
def circulation_step_flow(process_id: str, step_id: str, at: str | None = None) -> dict[str, int]:
    """The draft to the bodies that treat it, and reminders while their treatment is pending."""
    return queue_step(process_id, step_id, at)


STEP_FLOWS = {
    "request": request_step_flow,
    "compilation": compilation_step_flow,
    "meeting": meeting_step_flow,
    "circulation": circulation_step_flow,
}


@flow(name="tick")
async def tick_flow(at: str | None = None) -> dict[str, object]:
    """Run the flow of every step with something due, then send what they queued."""
    steps = {}
    for process_id, step_id, kind in due_steps(at):
        steps[f"{process_id}/{step_id}"] = STEP_FLOWS[kind](process_id, step_id, at)
    sent = await send_outbox(at)
    return {"steps": steps, "mail": sent}
