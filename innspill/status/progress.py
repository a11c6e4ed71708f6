"""Where a whole process stands: its steps' statuses, the current step and its counts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlmodel import Session

from innspill.journal.read import JournalSummary, summaries
from innspill.models import MessageStatus
from innspill.process.deadlines import extensions, step_deadlines, step_deadlines_written
from innspill.process.definition import ProcessDefinition
from innspill.process.workdays import OSLO, end_of_day
from innspill.status.archive import archive_statuses
from innspill.status.facts import Facts, load_facts
from innspill.status.model import ProcessStatus, StepState, StepStatus
from innspill.status.steps import Context, step_audiences, step_status


def current_step(steps: list[StepStatus]) -> StepStatus | None:
    """The step in progress: the first unfinished one whose deadline has not passed, else the
    last unfinished one (a draft still being treated after its deadline, say); None when every
    step is done."""
    unfinished = [s for s in steps if s.state != StepState.DONE]
    upcoming = (s for s in unfinished if s.days_left is not None and s.days_left >= 0)
    return next(upcoming, unfinished[-1] if unfinished else None)


def progress_step(steps: list[StepStatus], current: StepStatus | None) -> StepStatus | None:
    """The step whose counts tell how far the process is: the current one if it counts
    answers or treatments, else the latest one before it that does (else the first)."""
    counting = [s for s in steps if s.expected]
    if current is not None and current.expected:
        return current
    position = steps.index(current) if current is not None else len(steps)
    before = [s for s in counting if steps.index(s) < position]
    return before[-1] if before else (counting[0] if counting else None)


def _process_status(
    definition: ProcessDefinition,
    facts: Facts,
    *,
    now: datetime,
    detail: bool,
    journal: JournalSummary | None,
) -> ProcessStatus:
    ctx = Context(
        definition,
        facts,
        step_deadlines(definition, facts.changes),
        extensions(definition, facts.changes),
        step_audiences(definition),
        now,
        now.astimezone(OSLO).date(),
        detail,
        step_deadlines_written(definition, facts.changes),
    )
    steps = [step_status(ctx, step) for step in definition.steps]
    ended = now >= end_of_day(definition.process.ends)
    if ended:  # the planner sends nothing after the process's last day: nothing is open
        for step in steps:
            if step.state in (StepState.OPEN, StepState.NOT_STARTED):
                step.state = StepState.CLOSED
    messages = ({s.value: 0 for s in MessageStatus} if detail else {}) | facts.messages
    current = current_step(steps)
    upcoming = current is not None and current.days_left is not None and current.days_left >= 0
    counted = progress_step(steps, current)
    return ProcessStatus(
        process=definition.id,
        title=definition.process.title,
        reference=definition.process.reference,
        at=now.astimezone(OSLO).isoformat(),
        steps=steps,
        messages=messages,
        failed_messages=facts.failed_messages,
        failures=facts.failures,
        failed=messages.get(MessageStatus.FAILED.value, 0),
        failing_addresses=sorted(facts.failing),
        current_step=current.step if current else None,
        next_deadline=current.deadline if current and upcoming else None,
        days_left=current.days_left if current and upcoming else None,
        progress_step=counted.step if counted else None,
        journal=journal,
        ends=definition.process.ends.isoformat(),
        ended=ended,
    )


def process_statuses(
    session: Session,
    definitions: Mapping[str, ProcessDefinition],
    *,
    now: datetime,
    detail: bool = True,
) -> list[ProcessStatus]:
    """The status of these processes at `now`, in their order, from a fixed number of queries.

    Without `detail` the steps have their states, deadlines, counts and notes but no
    participants, bodies or archival copies (what the overview needs, cheaply).
    """
    facts = load_facts(session, definitions, now=now, detail=detail)
    # The archival copies and the journal are part of the detail (the process page, `status`),
    # not the overview.
    archive = archive_statuses(session, definitions if detail else ())
    journals: dict[str, JournalSummary] = {}
    if detail:
        keeps = {pid: d.archive is not None for pid, d in definitions.items()}
        journals = summaries(session, keeps, list(definitions))
    statuses = []
    for pid, d in definitions.items():
        status = _process_status(d, facts[pid], now=now, detail=detail, journal=journals.get(pid))
        if pid in archive:
            status.archival_copies = archive[pid].made
            status.archive_failures = archive[pid].failures
        statuses.append(status)
    return statuses


def process_status(
    session: Session, definition: ProcessDefinition, *, now: datetime
) -> ProcessStatus:
    """The status of one process at `now`, with every participant's and body's position."""
    (status,) = process_statuses(session, {definition.id: definition}, now=now)
    return status
