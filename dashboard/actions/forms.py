"""What the administrators' forms on the process and participant pages need to be drawn.

The forms themselves are template partials (`actions_process.html`, `actions_participant.html`);
the routes that take them are in `actions_steps.py`. This module says which forms a page has
(one per step and action), what their fields are (the themes and questions of a request step,
the bodies of a circulation, who was invited to a meeting), and, after a refused submission,
which form it was, what was wrong and what the user had typed (so that nothing is lost).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from innspill.inbound.answers import MAX_FILE_BYTES, MAX_FILES
from innspill.process.definition import (
    CirculationStep,
    MeetingStep,
    ProcessDefinition,
    RequestStep,
)
from innspill.process.workdays import OSLO, end_of_day, local_datetime

#: Where a form sends the user back to: the page it is on.
BACK_PROCESS, BACK_PARTICIPANT = "process", "participant"


@dataclass(frozen=True)
class ThemeField:
    """One textarea of the registered answer: a theme of the step, with its questions."""

    id: str
    title: str
    questions: list[str]


@dataclass(frozen=True)
class StepForms:
    """The forms of one step: which actions it takes, and what their fields need."""

    id: str
    title: str
    kind: str  # request: deadline and answer; circulation: treatment; meeting: attendance
    themes: list[ThemeField] = field(default_factory=list)
    audience: list[tuple[str, str]] = field(default_factory=list)  # (id, name)
    deadline: date | None = None  # the step's deadline in the file (request steps)
    # a meeting that may still be cancelled: not cancelled, not begun, the process not ended
    cancellable: bool = False


@dataclass
class Refused:
    """A submission that was not saved: which form, why, and what had been typed."""

    form: str  # the form's id, e.g. "frist-innspill-oppdrag"
    error: str  # in bokmål: what to correct
    values: dict[str, str] = field(default_factory=dict)
    files_dropped: bool = False  # files were chosen: a browser cannot fill a file field again

    def value(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)


@dataclass
class Forms:
    """The forms of one page."""

    today: date  # local: the default date received, the earliest sensible new deadline
    steps: list[StepForms]
    refused: Refused | None = None
    max_files: int = MAX_FILES
    max_mb: int = MAX_FILE_BYTES // (1024 * 1024)

    def step(self, step_id: str) -> StepForms | None:
        return next((s for s in self.steps if s.id == step_id), None)

    def of(self, form_id: str) -> Refused | None:
        """The refused submission of this form, if this page shows one."""
        return self.refused if self.refused and self.refused.form == form_id else None

    @property
    def request_steps(self) -> list[StepForms]:
        return [s for s in self.steps if s.kind == "request"]

    @property
    def circulation_steps(self) -> list[StepForms]:
        return [s for s in self.steps if s.kind == "circulation"]

    @property
    def meeting_steps(self) -> list[StepForms]:
        return [s for s in self.steps if s.kind == "meeting"]


def _step_forms(definition: ProcessDefinition, step_id: str, now: datetime) -> StepForms | None:
    step = definition.step(step_id)
    audience = [(p.id, p.name) for p in definition.audience(step.id)]
    if isinstance(step, RequestStep):
        themes = [ThemeField(t.id, t.title, list(t.questions)) for t in definition.themes_of(step)]
        return StepForms(step.id, step.title, step.kind, themes, audience, step.deadline)
    if isinstance(step, MeetingStep):
        cancellable = (
            not step.cancelled
            and now < local_datetime(step.date, step.start)
            and now < end_of_day(definition.process.ends)
        )
        return StepForms(step.id, step.title, step.kind, audience=audience, cancellable=cancellable)
    if isinstance(step, CirculationStep):
        return StepForms(step.id, step.title, step.kind, audience=audience)
    return None  # a compilation is made by the ticks (or `innspill compile`), not by hand


def forms_for(
    definition: ProcessDefinition,
    now: datetime,
    *,
    participant: str | None = None,
    refused: Refused | None = None,
) -> Forms:
    """The forms of the process page, or of one participant's page (the steps they are in)."""
    steps = []
    for step in definition.steps:
        if participant is not None and participant not in {
            p.id for p in definition.audience(step.id)
        }:
            continue
        forms = _step_forms(definition, step.id, now)
        if forms is not None:
            steps.append(forms)
    return Forms(today=now.astimezone(OSLO).date(), steps=steps, refused=refused)
