"""The demo as one Prefect flow: a task per simulated day (subflows cost seconds each)."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NONE

from innspill.demo import run as demo
from innspill.flows.runtime import engine_for
from innspill.outbound.transport import CaptureTransport


@task(name="simulate-day", cache_policy=NONE, persist_result=False)
def simulate_day(url: str, mail_dir: str, day: date) -> int:
    """Answers and extensions of that day, and the engine's ticks at 09.00 and 14.00."""
    return demo.run_day(engine_for(url), CaptureTransport(Path(mail_dir)), day)


@flow(name="demo-2020-round", persist_result=False)
def demo_flow(url: str, mail_dir: str) -> int:
    """Play the 2020 round from 30 March to 30 June on a simulated clock."""
    demo.setup(engine_for(url))
    sent = sum(simulate_day(url, mail_dir, day) for day in demo.days())
    archive_round(url)
    return sent


@task(name="archive-copies", cache_policy=NONE, persist_result=False)
def archive_round(url: str) -> int:
    """The archival copies of the whole round, as the ticks' last task makes them."""
    return demo.archive_all(engine_for(url))


@contextmanager
def temporary_server() -> Iterator[None]:
    """Prefect's temporary server for this process, its stderr kept apart from ours.

    Stopping it cancels its services, and uvicorn in the server's own process then printed
    about 130 lines of CancelledError after the demo had finished (one run in three). That
    process inherits our stderr when it starts, so it is started here with stderr pointing at
    a temporary file. Whatever it writes while the flows run (real errors) is copied to our
    stderr before it is stopped; what it writes while stopping is dropped.
    """
    from prefect.server.api.server import SubprocessASGIServer

    with tempfile.TemporaryFile() as log:
        server = SubprocessASGIServer()  # the one instance Prefect's clients will use
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(log.fileno(), 2)
        try:
            # Prefect waits 20 s by default; a busy machine (or a first run compiling its
            # modules) can take longer, and the demo would fail before it began.
            server.start(timeout=_startup_timeout())
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        try:
            yield
        finally:
            _drain_prefect_workers()
            log.seek(0)
            during = log.read()
            server.stop()
            if during.strip():
                sys.stderr.write(during.decode("utf-8", "replace"))
                sys.stderr.flush()


def _startup_timeout() -> int:
    """PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS when set, else two minutes."""
    value = os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "")
    return int(value) if value.isdigit() else 120


def _drain_prefect_workers() -> None:
    """Send the run's last events and logs while the server listens (at exit they would fail)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    EventsWorker.drain_all(timeout=10)
    APILogWorker.drain_all(timeout=10)
