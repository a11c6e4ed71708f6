"""The planner plans participants alike in a request step once (planner._plan_request_step):
it must plan exactly what planning each participant alone plans, in every state a round
passes through. Compared over the 2020 round played day by day (answers early and late,
extensions, bounces, receipts, overdue reminders), and over a state made to hold every
difference the groups tell apart."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

from sqlmodel import Session

from innspill.demo import run as demo
from innspill.models.db import make_engine
from innspill.outbound.transport import CaptureTransport
from innspill.planning.actions import Action, ActionKind, AnswerRecord, ProcessState, Recorded
from innspill.planning.planner import _plan_request, _plan_request_step
from innspill.planning.state import load_state
from innspill.process.definition import ProcessDefinition, RequestStep
from innspill.process.loading import get_definition
from innspill.process.workdays import OSLO
from tests.conftest import SEED_ID, oslo


def one_by_one(definition: ProcessDefinition, state: ProcessState, now: datetime) -> list[Action]:
    out: list[Action] = []
    for step in definition.steps:
        if isinstance(step, RequestStep):
            for participant in definition.audience(step.id):
                out += _plan_request(definition, step, participant.id, state, now)
    return out


def grouped(definition: ProcessDefinition, state: ProcessState, now: datetime) -> list[Action]:
    out: list[Action] = []
    for step in definition.steps:
        if isinstance(step, RequestStep):
            out += _plan_request_step(definition, step, state, now)
    return out


def test_grouped_planning_equals_planning_each_alone_over_the_round(
    database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(database_url)
    transport = CaptureTransport(tmp_path / "mail")
    demo.setup(engine)
    compared = actions = 0
    for day in demo.days():
        demo.run_day(engine, transport, day)
        with Session(engine) as session:
            definition = get_definition(session, SEED_ID)
            state = load_state(session, definition)
        for hour in (6, 9, 12, 16):
            for later in (0, 1, 3):  # also as if the ticks had stopped for a few days
                now = datetime.combine(day + timedelta(days=later), time(hour), tzinfo=OSLO)
                expected = one_by_one(definition, state, now)
                assert grouped(definition, state, now) == expected, (day, hour, later)
                compared += 1
                actions += len(expected)
    engine.dispose()
    assert compared > 1000 and actions > 500  # the round gave the comparison something to do


def test_every_difference_between_participants_keeps_them_apart() -> None:
    from innspill.process.definition import parse_definition
    from tests.conftest import SEED

    definition = parse_definition(SEED.read_text("utf-8"))
    step = definition.step("innspill-oppdrag")
    assert isinstance(step, RequestStep)
    people = [p.id for p in definition.audience(step.id)]
    invited = oslo(2020, 3, 30, 9)
    base = {(step.id, p): [Recorded("invitation", "1", invited, step.deadline)] for p in people}
    state = ProcessState(messages=base)
    # One participant differs from the rest in each way the rules can tell.
    state.deadlines[(step.id, people[0])] = step.deadline + timedelta(days=7)
    state.answered_at[(step.id, people[1])] = oslo(2020, 4, 2, 10)
    state.answers[step.id] = [AnswerRecord(people[1], 1, oslo(2020, 4, 2, 10))]
    state.failing_addresses.add(people[2])
    state.messages[(step.id, people[3])] = [
        *base[(step.id, people[3])],
        Recorded("reminder", "manual-1", oslo(2020, 4, 20, 8), step.deadline),
    ]
    state.messages[(step.id, people[4])] = [
        Recorded("invitation", "1", invited + timedelta(days=1), step.deadline)
    ]
    kinds = set()
    day = step.opens
    while day <= step.deadline + timedelta(days=20):
        for hour in (9, 12):
            now = datetime.combine(day, time(hour), tzinfo=OSLO)
            expected = one_by_one(definition, state, now)
            assert grouped(definition, state, now) == expected, now
            kinds |= {(a.participant_id, a.kind, a.skip_reason) for a in expected}
        day += timedelta(days=1)
    # The comparison met receipts, skips for the answered and the bounced, and reminders.
    assert (people[1], ActionKind.RECEIPT, None) in kinds
    assert any(p == people[2] and reason for p, _, reason in kinds)
    assert any(kind == ActionKind.OVERDUE for _, kind, _ in kinds)


def test_a_field_the_state_comes_to_have_splits_the_groups(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A field added to the state later (say, the day each participant's answers close) is
    read of each participant without the grouping knowing its name."""
    from dataclasses import dataclass, field

    from innspill.planning import planner
    from innspill.process.definition import parse_definition
    from tests.conftest import SEED

    @dataclass
    class Later(ProcessState):
        closes: dict[tuple[str, str], object] = field(default_factory=dict)
        flagged: set[str] = field(default_factory=set)

    definition = parse_definition(SEED.read_text("utf-8"))
    step = definition.step("innspill-oppdrag")
    assert isinstance(step, RequestStep)
    people = [p.id for p in definition.audience(step.id)]
    state = Later()
    state.closes[(step.id, people[0])] = step.deadline
    state.flagged.add(people[1])
    planned: list[str] = []
    real = planner._plan_request

    def counted(definition, step, participant_id, state, now):  # type: ignore[no-untyped-def]
        planned.append(participant_id)
        return real(definition, step, participant_id, state, now)

    monkeypatch.setattr(planner, "_plan_request", counted)
    actions = _plan_request_step(definition, step, state, oslo(2020, 3, 30, 9))
    assert planned == people[:3]  # the two who differ, and one for all the rest
    assert sorted(a.participant_id for a in actions) == sorted(people)  # everyone invited
