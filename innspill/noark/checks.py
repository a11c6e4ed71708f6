"""Whether a process is ready to be deposited: every step through, every letter sent, every
document in archival format. Each reason is one line; `--partial` exports anyway."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from innspill.i18n import N_
from innspill.noark.records import FAILED, Post
from innspill.process.definition import ProcessDefinition
from innspill.process.workdays import end_of_day
from innspill.status.model import ProcessStatus, StepState
from innspill.status.progress import process_status


class Reason(str):
    """One reason, in English (the command line, the log), with what the dashboard says
    instead: `said`, a catalog id (bokmål) filled in from `values`."""

    said: str
    values: dict[str, object]

    def __new__(cls, text: str, said: str, **values: object) -> Reason:
        reason = super().__new__(cls, text)
        reason.said, reason.values = said, values
        return reason


def open_steps(status: ProcessStatus, definition: ProcessDefinition, now: datetime) -> list[Reason]:
    """Steps not through yet, while the round runs (after `[process] ends` nothing is sent
    and no answer form opens: what is left open then stays open for good)."""
    if now >= end_of_day(definition.process.ends):
        return []
    still = [s for s in status.steps if s.state != StepState.DONE.value]
    if not still:
        return []
    named = ", ".join(f"{s.step} ({s.state})" for s in still)
    return [
        Reason(
            f"{len(still)} step(s) not through yet: {named}; the round ends "
            f"{definition.process.ends}",
            N_("Steg som ikke er ferdige: %(steps)s. Runden slutter %(ends)s."),
            steps=", ".join(s.title for s in still),
            ends=definition.process.ends.strftime("%d.%m.%Y"),
        )
    ]


def unsent_mail(status: ProcessStatus) -> list[Reason]:
    """Messages waiting to be sent, and messages refused for good and not sent again."""
    reasons: list[Reason] = []
    waiting = status.messages.get("pending", 0) + status.messages.get("sending", 0)
    if waiting:
        reasons.append(
            Reason(
                f"{waiting} message(s) not sent yet (the sender sends them: innspill send)",
                N_("Meldinger som ikke er sendt ennå: %(n)s. De sendes ved neste utsending."),
                n=waiting,
            )
        )
    failed = [f for f in status.failures if not f.resent]
    if failed:
        reasons.append(
            Reason(
                f"{len(failed)} message(s) refused by the mail server and not sent again "
                "(innspill status lists them; correct the address, then innspill resend)",
                N_(
                    "Meldinger som e-posttjeneren avviste, og som ikke er sendt på nytt: %(n)s. "
                    "Rett adressen, og send dem på nytt."
                ),
                n=len(failed),
            )
        )
    return reasons


RETRY = "innspill status says why; then innspill archive convert --retry-failed"


def missing_copies(posts: list[Post]) -> list[Reason]:
    """Documents without their archival copy, one line per reason."""
    by_reason: dict[str, list[str]] = {}
    for post in posts:
        for doc in post.documents:
            if doc.missing:
                reason = doc.missing
                if reason.startswith(FAILED):  # the errors are in `innspill status`
                    reason = f"{FAILED} ({RETRY})"
                by_reason.setdefault(reason, []).append(doc.key)
    lines: list[Reason] = []
    for reason, keys in by_reason.items():
        shown = ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
        lines.append(
            Reason(
                f"{len(keys)} document(s) without an archival copy, {reason}: {shown}",
                N_("Dokumenter uten arkivkopi (PDF/A): %(n)s."),
                n=len(keys),
            )
        )
    return lines


def refusals(
    session: Session, definition: ProcessDefinition, posts: list[Post], now: datetime
) -> list[Reason]:
    """Every reason the process is not ready to deposit; empty when it is."""
    status = process_status(session, definition, now=now)
    return [*open_steps(status, definition, now), *unsent_mail(status), *missing_copies(posts)]
