"""The schema of a process file: pydantic models for the process, its participants and steps."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from datetime import date, time
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationInfo,
    field_validator,
    model_validator,
)

from innspill.process.archive import ArchiveSection
from innspill.process.fields import (
    Address,
    AttachmentPath,
    AttachmentRef,
    LocalOneLine,
    LocalStr,
    OneLine,
    Paragraph,
    Phone,
    Slug,
    sent_name,
)
from innspill.process.header_values import check_header_value
from innspill.process.texts import Language, localized

__all__ = [
    "Address",
    "AttachmentPath",
    "AttachmentRef",
    "Language",
    "OneLine",
    "Slug",
    "sent_name",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


#: What ProcessDefinition caches on itself (functools.cached_property, in its __dict__).
_CACHED = ("_views", "_participants_by_id")


class Sender(_Strict):
    """Who sends the letters: shown in the letter head and the signature."""

    organisation: OneLine
    unit: OneLine
    email: Address
    case_officer: OneLine
    phone: Phone | None = None  # the case officer's, in the signature block of every letter
    signature_name: OneLine
    signature_title: LocalOneLine
    address_lines: list[OneLine] = []


class Participant(_Strict):
    """One body that receives messages: a secretariat, a steering group, a drafter."""

    id: Slug
    name: OneLine
    role: Slug
    email: Address
    language: Language = "nb"
    area: OneLine | None = None
    # The participant's own case number for this matter: "Deres referanse" in the letter head.
    their_reference: OneLine | None = None


class Theme(_Strict):
    """A theme the input is asked for, with its guiding questions."""

    id: Slug
    title: LocalOneLine
    questions: list[LocalStr] = []


class ReminderPolicy(_Strict):
    """When to remind: working days before the deadline, then overdue reminders."""

    before: list[Annotated[int, Field(ge=1, le=60)]] = [7, 2]
    overdue_every: Annotated[int, Field(ge=1, le=60)] | None = 5
    overdue_max: Annotated[int, Field(ge=0, le=20)] = 2
    hour: Annotated[int, Field(ge=6, le=20)] = 9

    @field_validator("before")
    @classmethod
    def _distinct(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("the same number of days is given twice")
        return sorted(value, reverse=True)

    @property
    def send_time(self) -> time:
        return time(self.hour, 0)


class TreatmentReminders(_Strict):
    """Reminders to bodies whose treatment of the draft is still pending."""

    after: Annotated[int, Field(ge=1, le=120)] = 10  # working days after the draft was sent
    every: Annotated[int, Field(ge=1, le=120)] = 10
    max: Annotated[int, Field(ge=0, le=10)] = 2
    hour: Annotated[int, Field(ge=6, le=16)] = 9


class _Step(_Strict):
    id: Slug
    title: LocalOneLine
    audience: list[Slug] = Field(default_factory=lambda: ["secretariat"])


class RequestStep(_Step):
    """A request for written input, with its deadline and reminders."""

    kind: Literal["request"]
    opens: date
    deadline: date
    # Late answers are taken (and marked late) until this day ends; unset: the process's
    # `ends`. A deadline moved past it keeps the step open until that deadline.
    closes: date | None = None
    themes: list[Slug] | None = None
    reminders: ReminderPolicy = ReminderPolicy()
    # The step's own introduction, paragraph by paragraph (plain text, shown escaped in the
    # invitation and on the answer form), and files sent with the invitation: paths relative
    # to the process file, read and checked at load (see innspill.process.attachments).
    intro: list[Paragraph] = []
    attachments: list[AttachmentRef] = []

    @field_validator("attachments")
    @classmethod
    def _distinct_names(cls, value: list[str]) -> list[str]:
        names = [sent_name(v) for v in value]
        if len(set(names)) != len(names):
            raise ValueError(
                "two attachments have the same file name as sent (text and Markdown go as "
                "NAME.pdf); the invitation carries them by name"
            )
        return value

    @field_validator("deadline")
    @classmethod
    def _after_opens(cls, value: date, info: ValidationInfo) -> date:
        # A field validator (not a model validator), so that the problem names the field.
        opens = info.data.get("opens")
        if opens is not None and value <= opens:
            raise ValueError(
                f"deadline {value} is not after opens {opens}: "
                "the deadline must come after the step opens"
            )
        return value

    @field_validator("closes")
    @classmethod
    def _closes_after_deadline(cls, value: date | None, info: ValidationInfo) -> date | None:
        deadline = info.data.get("deadline")
        if value is not None and deadline is not None and value < deadline:
            raise ValueError(
                f"closes {value} is before deadline {deadline}: "
                "late answers are taken from the deadline until the step closes"
            )
        return value


class MeetingStep(_Step):
    """A meeting with the participants (for example the half-day meeting)."""

    kind: Literal["meeting"]
    date: date
    start: time
    end: time
    place: OneLine
    video_link: Annotated[str, AfterValidator(check_header_value)] | None = None
    agenda: list[LocalStr] = []
    invite: datetime.date | None = None  # invitations go out; default 10 working days before
    hour: Annotated[int, Field(ge=6, le=16)] = 9  # earliest local hour for its messages
    cancelled: bool = False  # set to cancel: a CANCEL goes to everyone invited
    attach_compilation: Slug | None = None  # a compilation step whose latest version the
    # reminder the working day before carries, as background for the meeting

    @property
    def send_time(self) -> time:
        return time(self.hour, 0)

    @field_validator("end")
    @classmethod
    def _after_start(cls, value: time, info: ValidationInfo) -> time:
        start = info.data.get("start")
        if start is not None and value <= start:
            raise ValueError(f"end {value} is not after start {start}")
        return value


class CompilationStep(_Step):
    """The answers of a request step compiled theme by theme for the drafters."""

    kind: Literal["compilation"]
    source: Slug
    due: date | None = None  # when the drafters should have it (shown in status)
    early: bool = False  # compile as soon as everyone has answered, not only after the deadline
    hour: Annotated[int, Field(ge=6, le=16)] = 9
    audience: list[Slug] = Field(default_factory=lambda: ["drafter"])

    @property
    def send_time(self) -> time:
        return time(self.hour, 0)


class CirculationStep(_Step):
    """The draft sent to the bodies that treat it, by a deadline."""

    kind: Literal["circulation"]
    deadline: date  # the draft should reach the steering groups by then
    audience: list[Slug] = Field(default_factory=lambda: ["steering_group"])
    reminders: TreatmentReminders = TreatmentReminders()

    @property
    def send_time(self) -> time:
        return time(self.reminders.hour, 0)


Step = Annotated[
    RequestStep | MeetingStep | CompilationStep | CirculationStep, Field(discriminator="kind")
]


class ProcessInfo(_Strict):
    """The process as a whole: its id, title and case reference."""

    id: Slug
    title: LocalOneLine
    # The case as subjects name it, when the title is too long for them (default: the title).
    short_title: LocalOneLine | None = None
    reference: Annotated[str, Field(pattern=r"^\d{2}/\d{1,7}$")]
    language: Language = "nb"
    ends: date
    # A participant's deadline on a weekend or public holiday runs to the next working day
    # (as domstolloven § 149 has it for deadlines in days); "as_written" keeps the written day.
    holiday_deadlines: Literal["next_working_day", "as_written"] = "next_working_day"


class ProcessDefinition(_Strict):
    """A whole process file."""

    process: ProcessInfo
    sender: Sender
    participants: list[Participant] = Field(min_length=1)
    themes: list[Theme] = []
    steps: list[Step] = Field(min_length=1)
    archive: ArchiveSection | None = None  # None: the round keeps no journal numbers

    @model_validator(mode="before")
    @classmethod
    def _participants_inherit_language(cls, data: object) -> object:
        """A participant without `language` is written to in the process's language."""
        if not isinstance(data, dict):
            return data
        process, participants = data.get("process"), data.get("participants")
        if not isinstance(process, dict) or not isinstance(participants, list):
            return data
        language = process.get("language", "nb")
        data = dict(data)
        data["participants"] = [
            {"language": language, **p} if isinstance(p, dict) else p for p in participants
        ]
        return data

    @model_validator(mode="wrap")
    @classmethod
    def _texts_in_process_language(
        cls, data: Any, handler: ModelWrapValidatorHandler[ProcessDefinition]
    ) -> ProcessDefinition:
        """Every table's string is the process's language (where the table gives it)."""
        definition = handler(data)
        rebased = definition._localized(definition.process.language)
        rebased._views[definition.process.language] = rebased
        return rebased

    @cached_property
    def _views(self) -> dict[str, ProcessDefinition]:
        # This definition in each language, made once; shared by the views themselves.
        return {}

    def model_copy(
        self, *, update: Mapping[str, Any] | None = None, deep: bool = False
    ) -> ProcessDefinition:
        """A copy; one with changes has its own views and participant lookup (pydantic would
        copy the cached ones of the original along)."""
        copied = super().model_copy(update=update, deep=deep)
        if update or deep:
            for name in _CACHED:
                copied.__dict__.pop(name, None)
        return copied

    def _localized(self, language: str) -> ProcessDefinition:
        view = self.model_copy(
            update={
                name: localized(getattr(self, name), language)
                for name in ("process", "sender", "themes", "steps")
            },
        )
        # Only the texts differ: the view shares the views and the participant lookup.
        for name in _CACHED:
            if name in self.__dict__:
                view.__dict__[name] = self.__dict__[name]
        return view

    def in_language(self, language: str) -> ProcessDefinition:
        """This definition with every text a participant reads in `language`, where the
        file gives it (else in the process's language): for letters, forms, compilations."""
        view = self._views.get(language)
        if view is None:
            base = self._views.get(self.process.language, self)  # texts fall back to its
            view = self._views[language] = base._localized(language)
        return view

    @property
    def id(self) -> str:
        return self.process.id

    def step(self, step_id: str) -> RequestStep | MeetingStep | CompilationStep | CirculationStep:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def audience(self, step_id: str) -> list[Participant]:
        roles = set(self.step(step_id).audience)
        return [p for p in self.participants if p.role in roles or p.id in roles]

    def themes_of(self, step: RequestStep) -> list[Theme]:
        if step.themes is None:
            return list(self.themes)
        wanted = set(step.themes)
        return [t for t in self.themes if t.id in wanted]

    @cached_property
    def _participants_by_id(self) -> dict[str, Participant]:
        return {p.id: p for p in self.participants}

    def participant(self, participant_id: str) -> Participant:
        # A dict, not a scan: a tick of 10,000 participants asked this 20,000 times.
        return self._participants_by_id[participant_id]
