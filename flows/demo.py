"""The demo as one Prefect flow: a task per simulated day (subflows cost seconds each)."""

from __future__ import annotations

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
    return sum(simulate_day(url, mail_dir, day) for day in demo.days())
