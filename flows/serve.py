"""The deployments an administrator serves: the tick and the mailbox, on their schedules."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from prefect.schedules import Cron

from innspill.config.settings import Settings
from innspill.flows.tick import tick_flow

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment


def deployments(settings: Settings) -> list[RunnerDeployment]:
    """What `innspill serve` registers and serves."""
    tick = tick_flow.to_deployment(
        name="innspill-tick",
        schedule=Cron(settings.tick_cron, timezone="Europe/Oslo"),
        description="Plans every loaded process, runs the steps with something due, sends mail.",
    )
    served = [cast("RunnerDeployment", tick)]
    if settings.imap_host:
        from innspill.flows.mail import fetch_mail_flow

        fetch = fetch_mail_flow.to_deployment(
            name="innspill-fetch-mail",
            schedule=Cron(settings.fetch_cron, timezone="Europe/Oslo"),
            description="Imports answers, auto-replies and bounces from the IMAP mailbox.",
        )
        served.append(cast("RunnerDeployment", fetch))
    return served
