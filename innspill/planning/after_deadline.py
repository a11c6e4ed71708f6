"""Planning the steps after the deadline: the compilation, the meeting, the circulation."""

from __future__ import annotations

import hashlib
from datetime import datetime

from innspill.planning.actions import (
    WHOLE_STEP,
    Action,
    ActionKind,
    ProcessState,
    Recorded,
    in_send_window,
)
from innspill.planning.due import first_working_day, latest_due
from innspill.process.definition import (
    CirculationStep,
    CompilationStep,
    MeetingStep,
    ProcessDefinition,
    RequestStep,
)
from innspill.process.workdays import OSLO, add_working_days, end_of_day, local_datetime

#: Why a treatment reminder is not sent, by the body's treatment state.
TREATMENT_BLOCKERS = {
    "on_agenda": "the draft is on the body's agenda",
    "treated": "already treated",
}

#: Working days before a meeting that its invitations go out, unless the step says `invite`.
INVITE_BEFORE = 10


def answers_basis(state: ProcessState, step_id: str, now: datetime) -> tuple[str, int]:
    """A fingerprint of the answers a compilation at `now` shows, and how many versions have
    been received by then.

    Each participant's versions up to the one that counts (received last): a version that
    came before it but was registered after it (a held message assigned later) changes
    nothing the drafters see, so it makes no new compilation. Without such versions this is
    every version received, as it always was, so stored fingerprints stay valid.
    """
    received = [a for a in state.answers.get(step_id, []) if a.received_at <= now]
    counting: dict[str, tuple[datetime, int]] = {}
    for a in received:
        mine = (a.received_at, a.version)
        counting[a.participant_id] = max(counting.get(a.participant_id, mine), mine)
    versions = sorted(
        f"{a.participant_id}:{a.version}"
        for a in received
        if a.version <= counting[a.participant_id][1]
    )
    return hashlib.sha256("\n".join(versions).encode()).hexdigest()[:16], len(received)


def plan_compilation(
    definition: ProcessDefinition, step: CompilationStep, state: ProcessState, now: datetime
) -> list[Action]:
    """A new version whenever the answers differ from the last one; then send it to drafters."""
    if now >= end_of_day(definition.process.ends) or not in_send_window(now, step.send_time):
        return []
    source = definition.step(step.source)
    basis, count = answers_basis(state, source.id, now)
    if count == 0:
        return []  # nothing to compile yet; status shows the step as overdue once due
    if not _compilation_due(definition, step, state=state, now=now):
        return []
    out: list[Action] = []
    # The versions made by `now`: a tick replayed for an earlier moment (--at) finds the
    # version of that moment, and makes no copy of it after the later ones.
    versions = [v for v in state.documents.get((step.id, "compilation"), []) if v.created_at <= now]
    version = versions[-1].version if versions else 0
    if not versions or versions[-1].basis != basis:
        version += 1
        out.append(
            Action(
                definition.id,
                step.id,
                WHOLE_STEP,
                ActionKind.COMPILE,
                str(version),
                version=version,
                basis=basis,
            )
        )
    for drafter in definition.audience(step.id):
        if drafter.id in state.failing_addresses:
            continue
        out.append(
            Action(
                definition.id,
                step.id,
                drafter.id,
                ActionKind.COMPILATION,
                str(version),
                version=version,
            )
        )
    return out


def _compilation_due(
    definition: ProcessDefinition, step: CompilationStep, *, state: ProcessState, now: datetime
) -> bool:
    """The first working day after the earliest deadline, or as soon as all have answered."""
    source = definition.step(step.source)
    # Loading the definition checked that a compilation's source is a request step.
    assert isinstance(source, RequestStep)
    people = definition.audience(source.id)
    deadline = min(state.deadlines.get((source.id, p.id), source.deadline) for p in people)
    if now >= local_datetime(add_working_days(deadline, 1), step.send_time):
        return True
    answers = state.answers[source.id]
    return step.early and all(
        any(a.participant_id == p.id and a.received_at <= now for a in answers) for p in people
    )


def meeting_fingerprint(step: MeetingStep) -> str:
    """What an invitation announces: a change of any of it means an updated invitation."""
    parts = (step.date, step.start, step.end, step.place, step.video_link or "")
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:8]


def plan_meeting(
    definition: ProcessDefinition, step: MeetingStep, state: ProcessState, now: datetime
) -> list[Action]:
    """Invitations (updated when the meeting changes), a reminder the day before, a cancel."""
    starts = local_datetime(step.date, step.start)
    if now >= starts or not in_send_window(now, step.send_time):
        return []
    invite_day = step.invite or add_working_days(step.date, -INVITE_BEFORE)
    if now < local_datetime(first_working_day(invite_day), step.send_time):
        return []
    fingerprint = meeting_fingerprint(step)
    out: list[Action] = []
    for person in definition.audience(step.id):
        if person.id not in state.failing_addresses:
            out += _meeting_message(
                definition,
                step,
                state=state,
                now=now,
                person_id=person.id,
                fingerprint=fingerprint,
            )
    return out


def _meeting_message(
    definition: ProcessDefinition,
    step: MeetingStep,
    *,
    state: ProcessState,
    now: datetime,
    person_id: str,
    fingerprint: str,
) -> list[Action]:
    """What one person is due: a cancel, a (new or updated) invitation, or the reminder."""
    sent = [
        m
        for m in state.messages.get((step.id, person_id), [])
        if m.kind in (ActionKind.MEETING_INVITATION, ActionKind.MEETING_CANCEL)
    ]
    revision = len(sent)
    last = sent[-1] if sent else None

    def act(kind: ActionKind, sequence: str, rev: int) -> list[Action]:
        return [Action(definition.id, step.id, person_id, kind, sequence, revision=rev)]

    if step.cancelled:
        if last is not None and last.kind == ActionKind.MEETING_INVITATION:
            return act(ActionKind.MEETING_CANCEL, f"{revision + 1}:cancel", revision + 1)
        return []
    if last is None or last.sequence.split(":", 1)[1] != fingerprint:
        rev = revision + 1
        return act(ActionKind.MEETING_INVITATION, f"{rev}:{fingerprint}", rev)
    reminder_at = local_datetime(add_working_days(step.date, -1), step.send_time)
    if now >= reminder_at and last.created_at < reminder_at:
        return act(ActionKind.MEETING_REMINDER, step.date.isoformat(), revision)
    return []


def plan_circulation(
    definition: ProcessDefinition, step: CirculationStep, state: ProcessState, now: datetime
) -> list[Action]:
    """The latest draft to every body that has not had it; reminders while treatment is pending."""
    drafts = state.documents.get((step.id, "draft"), [])
    if not drafts or now >= end_of_day(definition.process.ends):
        return []
    version = drafts[-1].version
    sendable = in_send_window(now, step.send_time)
    out: list[Action] = []
    for body in definition.audience(step.id):
        if body.id in state.failing_addresses:
            continue
        circulated = next(
            (
                m
                for m in state.messages.get((step.id, body.id), [])
                if m.kind == ActionKind.CIRCULATION and m.sequence == str(version)
            ),
            None,
        )
        if circulated is None:
            if sendable:
                out.append(
                    Action(
                        definition.id,
                        step.id,
                        body.id,
                        ActionKind.CIRCULATION,
                        str(version),
                        version=version,
                    )
                )
            continue
        treatment = state.treatments.get((step.id, body.id), "pending")
        out += _treatment_reminders(
            definition,
            step,
            body_id=body.id,
            version=version,
            circulated=circulated,
            blocker=TREATMENT_BLOCKERS.get(treatment),
            now=now,
            sendable=sendable,
        )
    return out


def _treatment_reminders(
    definition: ProcessDefinition,
    step: CirculationStep,
    *,
    body_id: str,
    version: int,
    circulated: Recorded,
    blocker: str | None,
    now: datetime,
    sendable: bool,
) -> list[Action]:
    """The latest reminder due `after`, then every `every` working days after the draft went."""
    policy = step.reminders
    sent_on = circulated.created_at.astimezone(OSLO).date()
    due = [
        (
            k,
            local_datetime(
                add_working_days(sent_on, policy.after + (k - 1) * policy.every), step.send_time
            ),
        )
        for k in range(1, policy.max + 1)
    ]

    def make(k: int, reason: str | None) -> Action:
        return Action(
            definition.id,
            step.id,
            body_id,
            ActionKind.TREATMENT_REMINDER,
            f"{version}/{k}",
            version=version,
            overdue_number=k,
            skip_reason=reason,
        )

    return latest_due(
        [(k, at) for k, at in due if at <= now],
        make=make,
        blocker=blocker,
        invited_at=circulated.created_at,
        sendable=sendable,
        label="treatment reminder no.",
    )
