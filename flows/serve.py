"""The deployments an administrator serves: the tick, on its schedule in Europe/Oslo."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from prefect.schedules import Cron

from config.settings import Settings
from flows.tick import tick_flow

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment


def deployments(settings: Settings) -> list[RunnerDeployment]:
    """What `innspill serve` registers and serves."""
    tick = tick_flow.to_deployment(
        name="innspill-tick",
        schedule=Cron(settings.tick_cron, timezone="Europe/Oslo"),
        description="Plans every loaded process, runs the steps with something due, sends mail.",
    )
    return [cast("RunnerDeployment", tick)]
