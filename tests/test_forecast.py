"""The forecast ("what goes out next") is what the ticks then do: the same plan(), run forward.

The seed round is opened for real, the forecast is taken for the next ten working days, and
then real ticks run every hour of those days against the database: every action they take
must have been forecast for that hour, and nothing forecast may be missing.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.engine import Engine

from innspill.engine import tick
from innspill.inbound.answers import register_answer
from innspill.models.db import session_scope
from innspill.planning.forecast import forecast
from innspill.planning.state import load_state
from innspill.process.loading import get_definition
from innspill.process.workdays import OSLO
from tests.conftest import SEED_ID, load_seed, oslo


def _forecast(engine: Engine, now):  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        definition = get_definition(session, SEED_ID)
        return forecast(definition, load_state(session, definition), now)


def test_forecast_matches_the_ticks_that_follow(engine: Engine) -> None:
    load_seed(engine)
    tick(engine, now=oslo(2020, 3, 30, 9))  # the invitations
    start = oslo(2020, 4, 14, 7)
    planned = _forecast(engine, start)
    expected = {(p.at.astimezone(OSLO).replace(minute=0), p.action.key) for p in planned}
    kinds = {p.action.kind.value for p in planned}
    assert {"reminder", "overdue"} <= kinds, kinds  # before and after 27 April
    assert planned[-1].at.astimezone(OSLO).date() <= date(2020, 4, 28)  # 10 working days

    done = set()
    at = start
    end = max(p.at for p in planned) + timedelta(hours=1)
    while at <= end:
        report = tick(engine, now=at)
        for action in report.queued + report.skipped + report.compiled:
            done.add((at.astimezone(OSLO).replace(minute=0), action.key))
        at += timedelta(hours=1)
    assert done == expected


def test_forecast_writes_nothing(engine: Engine) -> None:
    load_seed(engine)
    first = _forecast(engine, oslo(2020, 3, 30, 7))
    second = _forecast(engine, oslo(2020, 3, 30, 7))
    assert [p.action.key for p in first] == [p.action.key for p in second]
    invitations = [p for p in first if p.action.kind.value == "invitation"]
    assert len(invitations) == 18  # nine secretariats, two request steps
    assert {p.at.astimezone(OSLO).hour for p in invitations} == {9}


def test_forecast_matches_the_ticks_around_the_compilation_and_the_meeting(
    engine: Engine,
) -> None:
    """The forecast looks only at the hours where something can turn (send hours, a meeting's
    start, the first hour of the day, and the hour after a busy one); the ticks run every
    hour. Over the compilation (made, then sent), the meeting's invitations and reminder and
    the circulation, they must still agree action for action."""
    load_seed(engine)
    tick(engine, now=oslo(2020, 3, 30, 9))
    with session_scope(engine) as session:  # an answer: the compilation has something in it
        definition = get_definition(session, SEED_ID)
        step = definition.step("innspill-retningslinjer")
        register_answer(
            session,
            definition,
            step_id=step.id,
            participant_id="bergen-sekretariat",
            texts={t.id: "Et innspill." for t in definition.themes_of(step)},  # type: ignore[arg-type]
            at=oslo(2020, 5, 20, 13),
        )
    start = oslo(2020, 5, 29, 7)
    planned = _forecast(engine, start)
    kinds = {p.action.kind.value for p in planned}
    assert {"compile", "compilation", "meeting_invitation"} <= kinds, kinds
    expected = {(p.at.astimezone(OSLO).replace(minute=0), p.action.key) for p in planned}
    done = set()
    at = start
    end = max(p.at for p in planned) + timedelta(hours=1)
    while at <= end:
        report = tick(engine, now=at)
        for action in report.queued + report.skipped + report.compiled:
            done.add((at.astimezone(OSLO).replace(minute=0), action.key))
        at += timedelta(hours=1)
    assert done == expected
