"""The Prefect flows run the same engine: a tick flow queues and sends, and is idempotent."""

from __future__ import annotations

import asyncio

import pytest

from innspill.config.settings import get_settings
from innspill.pdfa.identify import pdfa_problems
from tests.conftest import load_seed

pytestmark = pytest.mark.prefect


@pytest.fixture
def flow_env(monkeypatch, prefect_harness, engine, database_url, smtp, tmp_path):
    monkeypatch.setenv("INNSPILL_DATABASE_URL", database_url)
    monkeypatch.setenv("INNSPILL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("INNSPILL_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("INNSPILL_SMTP_PORT", str(smtp.port))
    get_settings.cache_clear()
    load_seed(engine)
    yield smtp
    get_settings.cache_clear()


def test_tick_flow_runs_each_open_step_and_sends_once(flow_env, monkeypatch):
    from innspill import engine as engine_module
    from innspill.flows import tick as tick_module
    from innspill.flows.tick import tick_flow

    # Spies (they call the real planner): the tick plans each process once, and the steps
    # record those actions without planning again.
    calls = {"flow": 0, "engine": 0}

    def spy(name, real):
        def counted(*args, **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)

        return counted

    monkeypatch.setattr(tick_module, "plan", spy("flow", tick_module.plan))
    monkeypatch.setattr(engine_module, "plan", spy("engine", engine_module.plan))
    result = asyncio.run(tick_flow(at="2020-03-30T09:15"))
    assert calls == {"flow": 1, "engine": 0}
    # Both request steps open on 30 March: one invitation per secretariat carries both, and
    # is recorded in the first step's task (the second step's invitations go with it).
    assert result["mail"]["sent"] == 9
    assert set(result["steps"]) == {"byvekstavtaler-sekretariat-2020/innspill-oppdrag"}
    assert len(flow_env.received) == 9
    assert len({tuple(r.rcpt_tos) for r in flow_env.received}) == 9
    for received in flow_env.received:
        files = [p for p in received.message.iter_attachments()]
        assert [p.get_filename() for p in files] == ["oppdrag.pdf"]  # made from oppdrag.md
        assert files[0].get_content_type() == "application/pdf"
        assert pdfa_problems(files[0].get_payload(decode=True)) == []
    # After sending, the tick's last task made the archival copies: nine letters, oppdrag.pdf.
    assert result["archive"] == {"made": 10, "failed": 0}
    again = asyncio.run(tick_flow(at="2020-03-30T09:45"))
    assert again["mail"]["sent"] == 0
    assert again["archive"] == {"made": 0, "failed": 0}
    assert len(flow_env.received) == 9


def test_demo_flow_plays_the_round(prefect_harness, tmp_path):
    from innspill.flows.demo import demo_flow

    url = f"sqlite:///{tmp_path / 'demo.db'}"
    sent = demo_flow(url, str(tmp_path / "mail"))
    assert sent == 102
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 102


def test_the_served_deployment_runs_the_tick_on_the_configured_schedule(tmp_path):
    from innspill.config.settings import Settings
    from innspill.flows.serve import deployments

    settings = Settings(data_dir=tmp_path, tick_cron="*/10 8-16 * * 1-5", _env_file=None)
    (tick,) = deployments(settings)
    assert tick.name == "innspill-tick" and tick.flow_name == "tick"
    (schedule,) = tick.schedules
    assert schedule.schedule.cron == "*/10 8-16 * * 1-5"
    assert schedule.schedule.timezone == "Europe/Oslo"
    # One tick at a time across every `innspill serve`; an overlapping run is cancelled.
    assert tick.concurrency_limit == 1
    assert tick.concurrency_options is not None
    assert tick.concurrency_options.collision_strategy == "CANCEL_NEW"


def test_a_failed_tick_says_in_one_line_what_failed_and_what_to_do(
    prefect_harness, monkeypatch, tmp_path
):
    from innspill.flows import tick as tick_module

    # Port 1 refuses connections: the database is down. No retries, to keep the test short.
    monkeypatch.setenv("INNSPILL_DATABASE_URL", "postgresql+psycopg://innspill@127.0.0.1:1/x")
    monkeypatch.setenv("INNSPILL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(tick_module, "plan_all", tick_module.plan_all.with_options(retries=0))
    get_settings.cache_clear()
    try:
        state = asyncio.run(tick_module.tick_flow(at="2020-03-30T09:15", return_state=True))
    finally:
        get_settings.cache_clear()
    assert state.is_failed()
    message = state.message or ""
    assert "\n" not in message
    assert "RunFailed: planning failed: cannot use the database" in message
    assert "check INNSPILL_DATABASE_URL" in message


def test_serve_refuses_to_start_without_a_prefect_server(tmp_path):
    import subprocess

    from tests.prefect_server import BIN, clean_env

    # Without PREFECT_API_URL Prefect would start a temporary server with no scheduler, and
    # the schedule would never fire: serve says so instead of waiting forever.
    env = clean_env(
        PREFECT_HOME=str(tmp_path / "prefect"),
        INNSPILL_DATABASE_URL=f"sqlite:///{tmp_path / 'innspill.db'}",
        INNSPILL_DATA_DIR=str(tmp_path / "data"),
    )
    done = subprocess.run(
        [str(BIN / "innspill"), "serve"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert "innspill serve needs a Prefect server" in done.stdout + done.stderr
    assert "PREFECT_API_URL" in done.stdout + done.stderr


def test_a_tick_that_cannot_send_fails_visibly_and_keeps_the_mail_queued(
    flow_env, monkeypatch, engine
):
    from sqlalchemy import func, select

    from innspill.flows import tick as tick_module
    from innspill.models import OutboxMessage
    from tests.smtp_sink import free_port

    monkeypatch.setenv("INNSPILL_SMTP_PORT", str(free_port()))  # nothing listens there
    monkeypatch.setattr(tick_module, "send_outbox", tick_module.send_outbox.with_options(retries=0))
    get_settings.cache_clear()
    state = asyncio.run(tick_module.tick_flow(at="2020-03-30T09:15", return_state=True))
    assert state.is_failed()
    message = state.message or ""
    assert "\n" not in message
    assert "RunFailed: sending stopped: cannot connect to 127.0.0.1:" in message
    assert "check INNSPILL_SMTP_*" in message
    with engine.connect() as conn:
        pending = conn.execute(
            select(func.count()).where(OutboxMessage.status == "pending")  # type: ignore[arg-type]
        ).scalar_one()
    assert pending == 9  # one per secretariat for both steps, left for the next tick


def test_a_tick_flow_with_another_secret_key_refuses_and_sends_nothing(
    flow_env, engine, monkeypatch
):
    """A serve started with another key than the database's fails the run with one line,
    as the CLI does, instead of planning tokens that nobody could use."""
    from innspill.flows import runtime
    from innspill.flows.tick import tick_flow
    from innspill.keys import ensure_key
    from innspill.models import OutboxMessage
    from innspill.models.db import session_scope

    ensure_key(engine, "the key the database was set up with", now=runtime.wall_clock())
    monkeypatch.setenv("INNSPILL_SECRET_KEY", "another machine's key")
    get_settings.cache_clear()
    runtime._checked.clear()
    with pytest.raises(Exception, match="secret key differs"):
        asyncio.run(tick_flow(at="2020-03-30T09:15"))
    assert flow_env.received == []
    with session_scope(engine) as session:
        assert session.query(OutboxMessage).count() == 0
