"""The tick as one flow: plan every process once, record each step's actions, send the outbox."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.utilities.annotations import quote

from innspill.engine import tick_process
from innspill.errors import RunFailed
from innspill.flows.archive import archive_copies
from innspill.flows.runtime import database, explain, parse_at, settings, transport, wall_clock
from innspill.models.db import session_scope
from innspill.outbound.compose import Outgoing
from innspill.outbound.outbox import dispatch
from innspill.outbound.pace import Limits
from innspill.planning.planner import Action, plan
from innspill.planning.state import load_states
from innspill.process.definition import ProcessDefinition
from innspill.process.loading import all_definitions


@dataclass(frozen=True)
class StepWork:
    """One step's actions from the tick's plan, handed to the task that records them."""

    definition: ProcessDefinition
    step_id: str
    kind: str
    actions: list[Action]

    @property
    def name(self) -> str:
        return f"{self.definition.id}/{self.step_id}"


# The tasks are async and run the plain, blocking code in a thread: a sync task in this async
# flow opened its own API client, about 0.1 s a task. They take Python objects from the flow in
# the same process: no cache key (hashing every action would cost more than the work) and no
# persisted result (a retry recomputes it).
@task(name="plan", retries=2, retry_delay_seconds=10, cache_policy=NONE, persist_result=False)
async def plan_all(now: datetime) -> list[StepWork]:
    """The planner's actions for every loaded process at `now`, grouped by step."""
    return await asyncio.to_thread(_plan_all, now)


def _plan_all(now: datetime) -> list[StepWork]:
    engine = database()
    out: list[StepWork] = []
    with session_scope(engine) as session:
        definitions = all_definitions(session)
        states = load_states(session, definitions)  # one round of queries, not one per process
        for definition in definitions:
            by_step: dict[str, list[Action]] = {}
            for action in plan(definition, states[definition.id], now):
                # An invitation that another carries is recorded with it, in its step's task.
                step_id = action.carrier.step_id if action.carrier else action.step_id
                by_step.setdefault(step_id, []).append(action)
            out.extend(
                StepWork(definition, step_id, definition.step(step_id).kind, actions)
                for step_id, actions in by_step.items()
            )
    return out


@task(
    name="step",
    task_run_name="{label}",
    retries=2,
    retry_delay_seconds=10,
    cache_policy=NONE,
    persist_result=False,
)
async def run_step(label: str, work: StepWork, now: datetime) -> dict[str, int]:
    """Record one step's actions (messages into the outbox, documents); idempotent, so a retry
    or a concurrent tick plans again and finds nothing left to do. `label` names the run."""
    return await asyncio.to_thread(_run_step, work, now)


def _run_step(work: StepWork, now: datetime) -> dict[str, int]:
    s = settings()
    report = tick_process(
        database(),
        work.definition,
        now=now,
        outgoing=Outgoing.from_settings(s),
        steps={work.step_id},
        planned=work.actions,
    )
    return {
        "queued": len(report.queued),
        "skipped": len(report.skipped),
        "compiled": len(report.compiled),
        "failed": len(report.failed),  # could not be rendered: stored as failed, with why
    }


@task(
    name="send-outbox", retries=2, retry_delay_seconds=30, cache_policy=NONE, persist_result=False
)
async def send_outbox(now: datetime) -> dict[str, object]:
    """Send every pending message; a crash or retry resends only unmarked ones."""
    s = settings()
    report = await dispatch(
        database(),
        transport(),
        now=now,
        max_attempts=s.smtp_max_attempts,
        clock=wall_clock,  # leases and the relay's pace run on the wall clock, also under `at`
        lease=timedelta(seconds=s.smtp_lease_seconds),
        pace=Limits.from_settings(s),
    )
    logger = get_run_logger()
    for error in report.errors[:20]:
        logger.warning("mail: %s", error)
    if report.paused:
        logger.warning("mail: sending paused: %s; the next tick goes on", report.paused)
    if report.stopped:
        # Raised, so the task retries and a run that could not send shows as failed.
        raise RunFailed(
            f"sending stopped: {report.stopped}; the messages stay in the outbox for the next "
            f"tick or `innspill send`; check INNSPILL_SMTP_* and the relay"
        )
    return {
        "sent": report.sent,
        "deferred": report.deferred,
        "failed": report.failed,
        "slowed": report.throttled,
    }


@flow(name="tick", persist_result=False)
async def tick_flow(at: str | None = None) -> dict[str, object]:
    """Plan every loaded process once, record each step with something due, send the outbox.

    `at` (ISO 8601; naive means Europe/Oslo) replaces the wall clock, for trying a moment out.
    """
    now = parse_at(at)
    try:
        work = await plan_all(now)
    except Exception as exc:
        raise RunFailed(f"planning failed: {explain(exc)}") from exc
    steps: dict[str, dict[str, int]] = {}
    failures: list[str] = []
    for item in work:
        # quote(): Prefect would otherwise walk the definition and every action looking for
        # futures, about 0.15 s a step. Prefect's overloads type return_state=True as a State,
        # but an async task returns an awaitable of it: their type is wrong, hence the ignore.
        state = await run_step(  # type: ignore[misc]
            f"{item.kind} {item.name}", quote(item), now, return_state=True
        )
        outcome = await state.aresult(raise_on_failure=False)
        if state.is_completed() and isinstance(outcome, dict):
            steps[item.name] = outcome
        else:
            failures.append(f"{item.name} ({item.kind}): {explain(outcome)}")
    # What the other steps queued is sent even when one step failed.
    try:
        sent = await send_outbox(now)
    except RunFailed:
        raise
    except Exception as exc:
        raise RunFailed(f"sending failed: {explain(exc)}") from exc
    try:  # after sending: a tick that queued many letters sends them first
        archived = await archive_copies(now)
    except Exception as exc:
        failures.append(f"archival copies: {explain(exc)}")
        archived = {}
    if failures:
        raise RunFailed(
            f"{len(failures)} of {len(work)} steps failed, the others were sent; "
            f"first: {failures[0]}"
        )
    return {"steps": steps, "mail": sent, "archive": archived}
