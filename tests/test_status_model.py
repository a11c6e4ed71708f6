"""One status model: `innspill status --json`, the overview page and the process page say the
same about every step (state, deadline, counts) while the demo plays the 2020 round.

The round is played day by day as `innspill demo` plays it, and stopped at each date below to
read the three views at the same instant; the pages are read through their `data-` attributes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col
from typer.testing import CliRunner

from innspill.config.settings import Settings, get_settings
from innspill.dashboard.app import create_app
from innspill.dashboard.auth import create_user
from innspill.dashboard.deps import get_now
from innspill.demo import run as demo
from innspill.models import OutboxMessage, Treatment
from innspill.models.db import make_engine, session_scope
from innspill.outbound.transport import CaptureTransport
from innspill.process.loading import get_definition
from innspill.process.workdays import local_datetime
from innspill.status import ProcessStatus, process_statuses
from tests.conftest import SEED_ID, TEST_DATABASE, new_database
from tests.test_dashboard import PASSWORD, USER, sign_in

#: Before the first deadline; the day after it; the day the second deadline runs to (1 June,
#: Whit Monday, as written); the day of the compilation; the day after the draft's deadline;
#: the end of the round.
DATES = [
    date(2020, 4, 1),
    date(2020, 4, 28),
    date(2020, 6, 2),
    date(2020, 6, 3),
    date(2020, 6, 16),
    date(2020, 6, 30),
]
EVENING = time(23, 0)  # after the day's ticks and happenings


class Rows(HTMLParser):
    """The `data-` attributes of every table row that has them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.rows: list[dict[str, str]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        data = {k.removeprefix("data-"): v or "" for k, v in attrs if k.startswith("data-")}
        if tag == "tr" and data:
            self.rows.append(data)


@dataclass
class Seen:
    """The three views at one instant, and the overview's cheap status of the same instant."""

    cli: dict[str, Any]
    overview: list[dict[str, str]]
    process: list[dict[str, str]]
    summary: ProcessStatus
    detail: ProcessStatus

    def step(self, step_id: str) -> dict[str, Any]:
        return next(s for s in self.cli["steps"] if s["step"] == step_id)


def cli_status(url: str, tmp: Path, now: datetime) -> dict[str, Any]:
    from innspill.cli import app

    env = {"INNSPILL_DATABASE_URL": url, "INNSPILL_DATA_DIR": str(tmp / "data")}
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["status", "--json", "--at", now.isoformat()], env=env)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    (status,) = json.loads(result.output)
    return dict(status)


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[date, Seen]]:
    tmp = tmp_path_factory.mktemp("status-model")
    url, drop = new_database(TEST_DATABASE, tmp)
    engine = make_engine(url)
    demo.setup(engine)
    with session_scope(engine) as session:
        create_user(session, USER, PASSWORD, now=local_datetime(demo.START, time(8)))
    transport = CaptureTransport(tmp / "mail")
    settings = Settings(data_dir=tmp / "data", database_url=url, _env_file=None)  # type: ignore[call-arg]
    app = create_app(settings)
    out: dict[date, Seen] = {}
    with TestClient(app) as client, pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp)  # no stray .env is read by the CLI
        sign_in(client)
        day = demo.START
        for target in DATES:
            while day <= target:
                demo.run_day(engine, transport, day)
                day += timedelta(days=1)
            now = local_datetime(target, EVENING)
            app.dependency_overrides[get_now] = lambda now=now: now
            with Session(engine) as session:
                definitions = {SEED_ID: get_definition(session, SEED_ID)}
                (summary,) = process_statuses(session, definitions, now=now, detail=False)
                (detail,) = process_statuses(session, definitions, now=now)
            out[target] = Seen(
                cli=cli_status(url, tmp, now),
                overview=Rows(client.get("/").text).rows,
                process=Rows(client.get(f"/processes/{SEED_ID}").text).rows,
                summary=summary,
                detail=detail,
            )
    engine.dispose()
    drop()
    yield out


def shown(step: dict[str, Any]) -> dict[str, str]:
    """A step of the CLI's JSON as the pages carry it in their attributes."""
    return {
        "step": step["step"],
        "state": step["state"],
        "deadline": step["deadline"] or "",
        "answered": str(step["answered"]),
        "expected": str(step["expected"]),
    }


@pytest.mark.parametrize("day", DATES, ids=str)
def test_process_page_shows_every_step_as_the_cli(seen: dict[date, Seen], day: date) -> None:
    s = seen[day]
    assert s.process == [shown(step) for step in s.cli["steps"]]
    assert len(s.process) == 6


@pytest.mark.parametrize("day", DATES, ids=str)
def test_overview_shows_the_current_step_as_the_cli(seen: dict[date, Seen], day: date) -> None:
    s = seen[day]
    (row,) = s.overview
    current = s.step(s.cli["current_step"])
    counted = s.step(s.cli["progress_step"])
    assert row == {
        "process": SEED_ID,
        "step": current["step"],
        "state": current["state"],
        "ended": "true" if s.cli["ended"] else "false",  # as the CLI says it (dashfeat)
        "deadline": s.cli["next_deadline"] or "",
        "progress-step": counted["step"],
        "answered": str(counted["answered"]),
        "expected": str(counted["expected"]),
    }
    # and the process page has that step in that state with those counts
    on_page = {r["step"]: r for r in s.process}
    assert on_page[current["step"]]["state"] == row["state"]
    assert (on_page[counted["step"]]["answered"], on_page[counted["step"]]["expected"]) == (
        row["answered"],
        row["expected"],
    )


@pytest.mark.parametrize("day", DATES, ids=str)
def test_the_overviews_cheap_status_is_the_same(seen: dict[date, Seen], day: date) -> None:
    """Without detail (the overview's few queries) only participants, bodies and each one's
    calendar reply are left out."""
    s = seen[day]
    bare = [replace(step, participants=[], bodies={}, replies={}) for step in s.detail.steps]
    assert s.summary.steps == bare
    for name in ("current_step", "next_deadline", "days_left", "progress_step", "failed"):
        assert getattr(s.summary, name) == getattr(s.detail, name), name
    # and the CLI prints that very status
    assert json.loads(json.dumps(s.detail.to_dict())) == s.cli


#: What the round looks like at each date: (current step, its state, next deadline, the
#: counted step and its counts), and each step's state.
EXPECTED = {
    date(2020, 4, 1): (
        ("innspill-oppdrag", "open", "2020-04-27", "innspill-oppdrag", 0, 9),
        ["open", "open", "not started", "not started", "not started", "not started"],
    ),
    # Grenland's deadline was extended to 8 May, but Tromsø has not answered and has no
    # extension: the first step is overdue (it is not kept open by Grenland's later deadline),
    # and the next deadline is the second step's.
    date(2020, 4, 28): (
        ("innspill-retningslinjer", "open", "2020-06-02", "innspill-retningslinjer", None, 9),
        # Part 1's own compilation went to the drafters that morning.
        ["overdue", "open", "done", "not started", "not started", "not started"],
    ),
    # The deadline written as 1 June (Whit Monday) runs to Tuesday 2 June: still open that
    # evening, part 2 not compiled yet; the meeting's invitations went out on 25 May.
    date(2020, 6, 2): (
        ("innspill-retningslinjer", "open", "2020-06-02", "innspill-retningslinjer", None, 9),
        ["overdue", "open", "done", "not started", "open", "not started"],
    ),
    date(2020, 6, 3): (
        ("halvdagsmote", "open", "2020-06-09", "innspill-retningslinjer", None, 9),
        ["overdue", "overdue", "done", "done", "open", "not started"],
    ),
    # Every deadline has passed, and the draft is still being treated: that is where it stands.
    date(2020, 6, 16): (
        ("oversendelse", "open", None, "oversendelse", None, 9),
        ["overdue", "overdue", "done", "done", "done", "open"],
    ),
    date(2020, 6, 30): (
        ("oversendelse", "open", None, "oversendelse", None, 9),
        ["overdue", "overdue", "done", "done", "done", "open"],
    ),
}


@pytest.mark.parametrize("day", DATES, ids=str)
def test_where_the_round_stands(seen: dict[date, Seen], day: date) -> None:
    s = seen[day]
    (current, state, deadline, counted, answered, expected), states = EXPECTED[day]
    assert (s.cli["current_step"], s.step(current)["state"], s.cli["next_deadline"]) == (
        current,
        state,
        deadline,
    )
    assert s.cli["progress_step"] == counted
    if answered is not None:
        assert s.step(counted)["answered"] == answered
    assert s.step(counted)["expected"] == expected
    assert [step["state"] for step in s.cli["steps"]] == states
    if deadline:
        assert s.cli["days_left"] == (date.fromisoformat(deadline) - day).days
    else:
        assert s.cli["days_left"] is None


@pytest.mark.parametrize("day", DATES, ids=str)
def test_overdue_and_waiting_counts_are_the_participants_own(
    seen: dict[date, Seen], day: date
) -> None:
    """A request step's counts of overdue and waiting participants are those the participant
    rows say, in the CLI's JSON and on the overview's cheap path alike."""
    s = seen[day]
    for step, cheap in zip(s.detail.steps, s.summary.steps, strict=True):
        if step.kind != "request":
            assert step.overdue == step.waiting == 0
            continue
        unanswered = [p for p in step.participants if p.answered_at is None]
        assert step.overdue == sum(p.overdue for p in step.participants)
        assert step.waiting == sum(1 for p in unanswered if p.extended and not p.overdue)
        assert (cheap.overdue, cheap.waiting) == (step.overdue, step.waiting)
        assert s.step(step.step)["overdue"] == step.overdue
        if step.state == "overdue":
            assert step.overdue > 0


# --- a step past its deadline with nobody left to chase --------------------------------------


@pytest.fixture(scope="module")
def late_april(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Engine]]:
    """The round played to 29 April (two days after the first deadline, Buskerudbyen answered
    late that day; Grenland's own deadline is 8 May), with Tromsø's answer to the first step
    registered late on 29 April too."""
    from innspill.inbound.answers import register_answer

    tmp = tmp_path_factory.mktemp("late-april")
    url, drop = new_database(TEST_DATABASE, tmp)
    engine = make_engine(url)
    demo.setup(engine)
    with session_scope(engine) as session:
        create_user(session, USER, PASSWORD, now=local_datetime(demo.START, time(8)))
    transport = CaptureTransport(tmp / "mail")
    day = demo.START
    while day <= date(2020, 4, 29):
        demo.run_day(engine, transport, day)
        day += timedelta(days=1)
    with session_scope(engine) as session:
        register_answer(
            session,
            get_definition(session, SEED_ID),
            step_id="innspill-oppdrag",
            participant_id="tromso-sekretariat",
            texts={"": "Innspill fra Tromsø, sent."},
            at=local_datetime(date(2020, 4, 29), time(14)),
        )
    yield url, tmp, engine
    engine.dispose()
    drop()


def views_at(url: str, tmp: Path, engine: Engine, now: datetime) -> Seen:
    settings = Settings(data_dir=tmp / "data", database_url=url, _env_file=None)  # type: ignore[call-arg]
    app = create_app(settings)
    app.dependency_overrides[get_now] = lambda: now
    with TestClient(app) as client, pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp)
        sign_in(client)
        summary, detail = both(engine, now)
        return Seen(
            cli=cli_status(url, tmp, now),
            overview=Rows(client.get("/").text).rows,
            process=Rows(client.get(f"/processes/{SEED_ID}").text).rows,
            summary=summary,
            detail=detail,
        )


def test_a_step_waiting_only_for_an_extension_is_done(
    late_april: tuple[str, Path, Engine],
) -> None:
    """Past its deadline, with every participant answered but one whose own deadline is later:
    nobody is overdue, so the step is done, and every view says so."""
    url, tmp, engine = late_april
    s = views_at(url, tmp, engine, local_datetime(date(2020, 4, 29), EVENING))
    first = s.step("innspill-oppdrag")
    assert (first["state"], first["answered"], first["expected"]) == ("done", 8, 9)
    assert (first["overdue"], first["waiting"], first["extended"]) == (0, 1, 1)
    assert s.summary.step("innspill-oppdrag") == replace(
        s.detail.step("innspill-oppdrag"), participants=[], bodies={}
    )
    assert s.process == [shown(step) for step in s.cli["steps"]]
    (row,) = s.overview
    assert row["step"] == s.cli["current_step"] == "innspill-retningslinjer"
    (grenland,) = [p for p in s.detail.step("innspill-oppdrag").participants if p.extended]
    assert grenland.participant == "grenland-sekretariat"
    assert (grenland.answered_at, grenland.overdue) == (None, False)
    assert grenland.deadline == "2020-05-08"


def test_an_extension_that_runs_out_makes_the_step_overdue_again(
    late_april: tuple[str, Path, Engine],
) -> None:
    """The round here was played only to 29 April, so Grenland has not answered: at noon on
    8 May, Grenland's own deadline, the step is still done; the next morning it is overdue
    again."""
    engine = late_april[2]
    summary, detail = both(engine, local_datetime(date(2020, 5, 9), time(8)))
    first = detail.step("innspill-oppdrag")
    assert (first.state, first.overdue, first.waiting) == ("overdue", 1, 0)
    assert summary.step("innspill-oppdrag").state == "overdue"
    summary, detail = both(engine, local_datetime(date(2020, 5, 8), time(12)))
    first = detail.step("innspill-oppdrag")
    assert (first.state, first.overdue, first.waiting) == ("done", 0, 1)


# --- the overview's cheap path on its own ---------------------------------------------------


@pytest.fixture
def mid_june(tmp_path: Path) -> Iterator[Engine]:
    """The round played to 16 June, the day after the draft's deadline."""
    url, drop = new_database(TEST_DATABASE, tmp_path)
    engine = make_engine(url)
    demo.setup(engine)
    transport = CaptureTransport(tmp_path / "mail")
    day = demo.START
    while day <= date(2020, 6, 16):
        demo.run_day(engine, transport, day)
        day += timedelta(days=1)
    yield engine
    engine.dispose()
    drop()


def both(engine: Engine, now: datetime) -> tuple[ProcessStatus, ProcessStatus]:
    with Session(engine) as session:
        definitions = {SEED_ID: get_definition(session, SEED_ID)}
        (summary,) = process_statuses(session, definitions, now=now, detail=False)
        (detail,) = process_statuses(session, definitions, now=now)
    return summary, detail


def test_an_undelivered_draft_is_overdue_on_the_overview_too(mid_june: Engine) -> None:
    """The overview finds circulated drafts by the outbox's keys and failures by its status:
    a draft that bounced (5xx) for a body that has not reported is still to be sent."""
    now = local_datetime(date(2020, 6, 16), EVENING)
    summary, detail = both(mid_june, now)
    assert summary.step("oversendelse").state == detail.step("oversendelse").state == "open"
    with Session(mid_june) as session:
        reported = {
            t.participant_key
            for t in session.scalars(select(Treatment).where(Treatment.state != "pending"))
        }
        row = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.kind == "circulation",
                col(OutboxMessage.participant_key).not_in(reported),
            )
        ).first()
        assert row is not None
        row.status, row.last_error = "failed", "550 5.1.1 no such mailbox"
        body = row.participant_key
        session.add(row)
        session.commit()
    summary, detail = both(mid_june, now)
    assert detail.step("oversendelse").bodies[body] == ("draft not delivered (the message failed)")
    assert summary.step("oversendelse").state == detail.step("oversendelse").state == "overdue"
    assert summary.failed == detail.failed == 1
    # before the deadline the same failure leaves the step open (the overview skips the query)
    before = local_datetime(date(2020, 6, 15), time(12))
    summary, detail = both(mid_june, before)
    assert summary.step("oversendelse").state == detail.step("oversendelse").state == "open"


def test_the_overview_asks_as_often_for_two_processes_as_for_one(mid_june: Engine) -> None:
    from sqlalchemy import event

    from innspill.dashboard.pages import queries
    from innspill.process.loading import store_definition

    def statements() -> list[str]:
        seen: list[str] = []

        def count(*args: object) -> None:
            seen.append(str(args[2]))

        event.listen(mid_june, "before_cursor_execute", count)
        try:
            with Session(mid_june) as session:
                rows = queries.overview(session, now=local_datetime(date(2020, 6, 16), EVENING))
        finally:
            event.remove(mid_june, "before_cursor_execute", count)
        assert all(r.current is not None for r in rows)
        return seen

    statements()  # each stored definition is parsed once, then kept: not counted here
    one = statements()
    with session_scope(mid_june) as session:
        seed = get_definition(session, SEED_ID)
        twin = seed.model_copy(
            update={"process": seed.process.model_copy(update={"id": "tvilling-2020"})}
        )
        store_definition(session, twin, source="test", now=local_datetime(demo.START, time(8)))
    statements()
    two = statements()
    assert len(two) == len(one) <= 10, two
