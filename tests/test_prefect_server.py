"""`innspill serve` against a real Prefect server: schedules fire, runs do not overlap or pause
each other, and several servers and a manual send over one database deliver each message once.

These start `prefect server start` (not the test harness, which has no scheduler) and
`innspill serve` as subprocesses, as an administrator would, and wait for the cron schedule
`* * * * *` to fire: each test takes one to three minutes.
"""

from __future__ import annotations

import collections
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import POSTGRES_URL, new_database
from tests.prefect_server import (
    PrefectServer,
    clean_env,
    innspill,
    is_scheduled,
    prefect_server,
    process_toml,
    start_serve,
    state_of,
    stop,
    tail,
)
from tests.smtp_sink import SmtpSink

pytestmark = pytest.mark.slow

# A round in the past: `innspill tick --at` queues its invitations as of that Monday 09.00,
# and the served tick (on the wall clock, any day or hour) plans nothing more for a process
# that has ended, and only sends. So the test passes at night and on weekends too.
OPENS, DEADLINE, ENDS = date(2025, 3, 3), date(2025, 3, 14), date(2025, 3, 31)
QUEUE_AT = "2025-03-03T09:00"
# The cron fires at the top of every minute; a run then needs the runner's poll (10 s) and a
# subprocess that imports innspill. Three minutes leaves room on a busy machine.
WAIT = 200


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    with prefect_server(tmp_path_factory.mktemp("prefect-server")) as running:
        yield running


@pytest.fixture
def serves(server: PrefectServer) -> Iterator[list[subprocess.Popen[bytes]]]:
    """The `innspill serve` processes a test starts; stopped, and the deployment removed, after."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        stop(process)
    # Each test registers the deployment afresh: runs left from this one must not count there.
    server.delete_deployment()


def queue_round(
    tmp_path: Path, database_url: str, smtp: SmtpSink, participants: int
) -> dict[str, str]:
    """Load a round into the database and queue its invitations; the environment to serve it."""
    env = clean_env(
        INNSPILL_DATABASE_URL=database_url,
        INNSPILL_DATA_DIR=str(tmp_path / "data"),
        INNSPILL_SMTP_HOST="127.0.0.1",
        INNSPILL_SMTP_PORT=str(smtp.port),
        INNSPILL_SMTP_TIMEOUT="10",
        INNSPILL_TICK_CRON="* * * * *",
    )
    path = tmp_path / "round.toml"
    path.write_text(
        process_toml("proverunde", participants, opens=OPENS, deadline=DEADLINE, ends=ENDS),
        encoding="utf-8",
    )
    innspill("load", str(path), "--at", "2025-03-03T08:00", env=env)
    out = innspill("tick", "--no-send", "--at", QUEUE_AT, env=env)
    assert f"{participants} queued" in out, out
    return env


def serve_env(env: dict[str, str], server: PrefectServer, home: Path) -> dict[str, str]:
    """One machine: its own PREFECT_HOME, the shared server and database."""
    home.mkdir(parents=True, exist_ok=True)
    return {**env, "PREFECT_API_URL": server.api_url, "PREFECT_HOME": str(home)}


def completed_scheduled_runs(
    server: PrefectServer, *, after: datetime | None = None
) -> list[dict[str, Any]]:
    deployment = server.deployment()
    if deployment is None:
        return []
    runs = [r for r in server.runs(deployment["id"]) if is_scheduled(r)]
    done = [r for r in runs if state_of(r) == "COMPLETED"]
    if after is not None:
        done = [r for r in done if r["start_time"] and _instant(r["start_time"]) > after]
    failed = [r for r in runs if state_of(r) in {"FAILED", "CRASHED"}]
    assert not failed, f"a scheduled tick failed: {failed[0]['state']}"
    return done


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def diagnose(server: PrefectServer, logs: list[Path]) -> str:
    """What to look at when a wait times out: the runs' states and the logs."""
    deployment = server.deployment()
    runs = server.runs(deployment["id"]) if deployment else []
    states = [
        (r["name"], r.get("auto_scheduled"), (r.get("state") or {}).get("name")) for r in runs
    ]
    parts = [f"deployment: {deployment and {k: deployment.get(k) for k in ('paused', 'status')}}"]
    parts.append(f"runs: {states[:20]}")
    parts += [f"--- {log.name}\n{tail(log)}" for log in logs]
    parts.append(f"--- server\n{tail(server.log)}")
    return "\n".join(parts)


def wait_for_mail(smtp: SmtpSink, count: int, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(smtp.received) < count and time.monotonic() < deadline:
        time.sleep(0.5)


def test_the_schedule_fires_and_the_scheduled_tick_sends_the_mail(
    server: PrefectServer,
    database_url: str,  # before `serves`: the serves stop before the database goes
    serves: list[subprocess.Popen[bytes]],
    tmp_path: Path,
    smtp: SmtpSink,
) -> None:
    env = queue_round(tmp_path, database_url, smtp, participants=3)
    assert smtp.received == []  # queued only: the scheduled run must send it
    log = tmp_path / "serve.log"
    serves.append(start_serve(serve_env(env, server, tmp_path / "machine-a"), log))
    try:
        (run, *_) = server.wait_for(
            "a scheduled tick run that completes", lambda: completed_scheduled_runs(server),
            timeout=WAIT,
        )  # fmt: skip
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{diagnose(server, [log])}") from None
    assert run["created_by"]["type"] == "SCHEDULE"
    wait_for_mail(smtp, 3, timeout=10)
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == [
        f"sekretariat-{n:05d}@proverunde.example" for n in (1, 2, 3)
    ]
    deployment = server.deployment()
    assert deployment is not None
    assert deployment["global_concurrency_limit"]["limit"] == 1
    assert deployment["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"


@pytest.mark.single_pass
def test_stopping_one_serve_neither_pauses_the_schedule_nor_stops_the_other(
    server: PrefectServer,
    database_url: str,  # before `serves`: the serves stop before the database goes
    serves: list[subprocess.Popen[bytes]],
    tmp_path: Path,
    smtp: SmtpSink,
) -> None:
    env = queue_round(tmp_path, database_url, smtp, participants=2)
    logs = [tmp_path / "serve-a.log", tmp_path / "serve-b.log"]
    first = start_serve(serve_env(env, server, tmp_path / "machine-a"), logs[0])
    serves.append(first)
    serves.append(start_serve(serve_env(env, server, tmp_path / "machine-b"), logs[1]))
    try:
        server.wait_for(
            "a first scheduled tick", lambda: completed_scheduled_runs(server), timeout=WAIT
        )
        stop(first)  # Ctrl+C, as systemd or an administrator would stop it
        stopped_at = datetime.now(UTC)
        assert first.returncode is not None
        deployment = server.deployment()
        assert deployment is not None
        assert deployment["paused"] is False
        assert all(s["active"] for s in deployment["schedules"])
        server.wait_for(
            "a scheduled tick after one serve stopped",
            lambda: completed_scheduled_runs(server, after=stopped_at),
            timeout=WAIT,
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{diagnose(server, logs)}") from None
    assert serves[1].poll() is None  # the other one is still serving
    wait_for_mail(smtp, 2, timeout=10)
    assert len(smtp.received) == 2  # queued once, sent once, whoever ran the tick


@pytest.mark.single_pass
def test_a_run_that_would_overlap_the_running_one_is_cancelled_visibly(
    server: PrefectServer,
    database_url: str,  # before `serves`: the serves stop before the database goes
    serves: list[subprocess.Popen[bytes]],
    tmp_path: Path,
    smtp: SmtpSink,
) -> None:
    env = queue_round(tmp_path, database_url, smtp, participants=1)
    log = tmp_path / "serve.log"
    serves.append(start_serve(serve_env(env, server, tmp_path / "machine-a"), log))
    deployment = server.wait_for("the deployment", server.deployment, timeout=60, every=1)
    # A run that holds the deployment's one slot, as a long tick would: moving it to Pending is
    # what takes the slot. It is scheduled far ahead so no runner picks it up.
    create = f"/deployments/{deployment['id']}/create_flow_run"
    held = server.post(create, {"state": {"type": "SCHEDULED", "state_details": {
        "scheduled_time": "2099-01-01T00:00:00Z"}}})  # fmt: skip
    taken = server.post(f"/flow_runs/{held['id']}/set_state", {"state": {"type": "PENDING"}})
    assert taken["status"] == "ACCEPT", taken
    try:
        # Now a run due at once: the serve picks it up and the server refuses it the slot.
        late = server.post(create, {})
        cancelled = server.wait_for(
            "the overlapping run to be cancelled",
            lambda: (
                (r := server.get(f"/flow_runs/{late['id']}")) and state_of(r) == "CANCELLED" and r
            ),
            timeout=WAIT,
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{diagnose(server, [log])}") from None
    finally:
        server.post(
            f"/flow_runs/{held['id']}/set_state", {"state": {"type": "CANCELLED"}, "force": True}
        )
    assert cancelled["state"]["message"] == "Deployment concurrency limit reached."
    assert smtp.received == []  # the cancelled run sent nothing


@pytest.mark.single_pass
def test_two_serves_and_a_manual_send_over_one_postgres_database_send_each_message_once(
    server: PrefectServer, serves: list[subprocess.Popen[bytes]], tmp_path: Path, smtp: SmtpSink
) -> None:
    """Several machines: one Prefect server, one PostgreSQL database, two `innspill serve` and an
    administrator's `innspill send` while the scheduled tick is sending."""
    database, drop = new_database(POSTGRES_URL, tmp_path)  # fails in CI if PostgreSQL is down
    try:
        participants = 1500
        env = queue_round(tmp_path, database, smtp, participants=participants)
        logs = [tmp_path / "serve-a.log", tmp_path / "serve-b.log"]
        for log, machine in zip(logs, ("machine-a", "machine-b"), strict=True):
            serves.append(start_serve(serve_env(env, server, tmp_path / machine), log))

        def running_tick() -> dict[str, Any] | None:
            deployment = server.deployment()
            runs = server.runs(deployment["id"]) if deployment else []
            return next((r for r in runs if state_of(r) in {"RUNNING", "COMPLETED"}), None)

        try:
            server.wait_for("a scheduled tick to start", running_tick, timeout=WAIT, every=0.2)
            # The administrator's send, while the scheduled tick sends the same outbox.
            manual = innspill("send", env=env)
            server.wait_for(
                "the scheduled tick to complete", lambda: completed_scheduled_runs(server),
                timeout=WAIT,
            )  # fmt: skip
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{diagnose(server, logs)}") from None
        wait_for_mail(smtp, participants, timeout=10)
        time.sleep(2)  # anything sent twice would arrive by now
        ids = collections.Counter(r.message_id for r in smtp.received)
        twice = {k: n for k, n in ids.items() if n > 1}
        assert not twice, f"{len(twice)} messages delivered more than once; manual: {manual}"
        assert len(ids) == participants, f"{len(ids)} of {participants} delivered; {manual}"
    finally:
        for process in serves:
            stop(process)
        drop()
