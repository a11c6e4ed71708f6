"""The deployments an administrator serves: the tick and the mailbox, on their schedules."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.schedules import Cron

from innspill.config.settings import Settings
from innspill.flows.tick import tick_flow

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

#: One run of a deployment at a time, on however many machines serve it. A run that would
#: overlap the one in progress is cancelled by the server, visibly ("Deployment concurrency
#: limit reached."), rather than queued: the next scheduled run plans everything anyway, and a
#: queue of waiting ticks would only pile up behind a slow one.
ONE_AT_A_TIME = ConcurrencyLimitConfig(
    limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
)


def deployments(settings: Settings) -> list[RunnerDeployment]:
    """What `innspill serve` registers and serves."""
    tick = tick_flow.to_deployment(
        name="innspill-tick",
        schedule=Cron(settings.tick_cron, timezone="Europe/Oslo"),
        concurrency_limit=ONE_AT_A_TIME,
        description="Plans every loaded process, records each step with something due, sends mail.",
    )
    served = [cast("RunnerDeployment", tick)]
    if settings.imap_host:
        from innspill.flows.mail import fetch_mail_flow

        fetch = fetch_mail_flow.to_deployment(
            name="innspill-fetch-mail",
            schedule=Cron(settings.fetch_cron, timezone="Europe/Oslo"),
            concurrency_limit=ONE_AT_A_TIME,
            description="Imports answers, auto-replies and bounces from the IMAP mailbox.",
        )
        served.append(cast("RunnerDeployment", fetch))
    return served
