"""The pure planner: what is due at a given moment, and why a due reminder is skipped."""

from __future__ import annotations

from datetime import UTC, date, datetime

from innspill.planning.planner import ActionKind, ProcessState, Recorded, plan
from innspill.process.definition import parse_definition
from tests.conftest import oslo

PROCESS = """
[process]
id = "test-round"
title = "Testrunde"
reference = "26/1234"
ends = 2020-12-31

[sender]
organisation = "Etaten"
unit = "Avdelingen"
email = "post@etat.example"
case_officer = "Saksbehandler"
signature_name = "Navn"
signature_title = "Tittel"

[[participants]]
id = "a"
name = "A"
role = "secretariat"
email = "a@a.example"

[[themes]]
id = "t"
title = "Tema"

[[steps]]
id = "s"
kind = "request"
title = "Innspill"
opens = OPENS
deadline = DEADLINE
reminders = { before = [5, 2], overdue_every = 3, overdue_max = 2, hour = 9 }
"""


def definition(opens: str = "2020-03-27", deadline: str = "2020-04-27"):
    return parse_definition(PROCESS.replace("OPENS", opens).replace("DEADLINE", deadline))


def invited(state: ProcessState, at: datetime, deadline: date = date(2020, 4, 27)) -> None:
    state.messages[("s", "a")] = [Recorded("invitation", "1", at, deadline)]
    state.recorded_keys.add("test-round/s/a/invitation/1")


def test_invitation_waits_for_nine_oclock_local_on_both_sides_of_dst():
    d = definition()
    # Friday 27 March 2020 (CET, UTC+1): 08:30 UTC is 09:30 in Oslo.
    assert [a.kind for a in plan(d, ProcessState(), datetime(2020, 3, 27, 7, 59, tzinfo=UTC))] == []
    assert [a.kind for a in plan(d, ProcessState(), datetime(2020, 3, 27, 8, 0, tzinfo=UTC))] == [
        ActionKind.INVITATION
    ]
    # A step opening Monday 30 March (CEST, UTC+2): 09:00 Oslo is 07:00 UTC.
    d2 = definition(opens="2020-03-30")
    assert plan(d2, ProcessState(), datetime(2020, 3, 30, 6, 59, tzinfo=UTC)) == []
    assert len(plan(d2, ProcessState(), datetime(2020, 3, 30, 7, 0, tzinfo=UTC))) == 1


def test_nothing_is_sent_on_a_weekend_evening_or_holiday_but_it_waits():
    d = definition(opens="2020-04-10")  # Good Friday
    assert plan(d, ProcessState(), oslo(2020, 4, 10, 10)) == []  # holiday
    assert plan(d, ProcessState(), oslo(2020, 4, 13, 10)) == []  # Easter Monday
    assert plan(d, ProcessState(), oslo(2020, 4, 14, 8)) == []  # before 09.00
    assert plan(d, ProcessState(), oslo(2020, 4, 14, 18)) == []  # after 17.00
    assert [a.kind for a in plan(d, ProcessState(), oslo(2020, 4, 14, 9))] == ["invitation"]


def test_after_downtime_only_the_latest_reminder_goes_the_older_is_skipped():
    d, state = definition(), ProcessState()
    invited(state, oslo(2020, 3, 27, 9))
    # Both the 5-day (20 April) and 2-day (23 April) reminders are due on 24 April.
    actions = plan(d, state, oslo(2020, 4, 24, 10))
    assert [(a.kind, a.sequence, a.skip_reason is None) for a in actions] == [
        ("reminder", "2020-04-27/-5", False),
        ("reminder", "2020-04-27/-2", True),
    ]
    assert "superseded" in (actions[0].skip_reason or "")


def test_an_answer_turns_due_reminders_into_skips_with_a_reason():
    d, state = definition(), ProcessState()
    invited(state, oslo(2020, 3, 27, 9))
    state.answered_at[("s", "a")] = oslo(2020, 4, 1, 12)
    actions = plan(d, state, oslo(2020, 4, 20, 9))
    assert [(a.kind, a.skip_reason) for a in actions] == [("reminder", "already answered")]
    assert plan(d, state, oslo(2020, 4, 17, 9)) == []  # nothing due yet, nothing recorded


def test_a_changed_deadline_is_announced_first_and_numbered():
    d, state = definition(), ProcessState()
    invited(state, oslo(2020, 3, 27, 9))
    state.deadlines[("s", "a")] = date(2020, 5, 8)
    actions = plan(d, state, oslo(2020, 4, 22, 14))
    assert [(a.kind, a.sequence, a.previous_deadline) for a in actions] == [
        ("deadline_changed", "1:2020-05-08", date(2020, 4, 27))
    ]
    # Once announced, reminders follow the new deadline.
    state.messages[("s", "a")].append(
        Recorded("deadline_changed", "1:2020-05-08", oslo(2020, 4, 22, 14), date(2020, 5, 8))
    )
    state.recorded_keys.add(actions[0].key)
    assert [a.sequence for a in plan(d, state, oslo(2020, 4, 30, 9))] == ["2020-05-08/-5"]


def test_invited_after_a_reminder_was_due_skips_it():
    d, state = definition(), ProcessState()
    invited(state, oslo(2020, 4, 21, 9))  # invitation went out a day after the 5-day reminder
    actions = plan(d, state, oslo(2020, 4, 21, 10))
    assert [a.skip_reason for a in actions] == [
        "the invitation went out after this reminder was due"
    ]


def test_failing_address_and_ended_process_skip_with_their_reason():
    d, state = definition(), ProcessState()
    invited(state, oslo(2020, 3, 27, 9))
    state.failing_addresses.add("a")
    assert plan(d, state, oslo(2020, 4, 20, 9))[0].skip_reason == (
        "the participant's address is failing (bounced)"
    )
    state.failing_addresses.clear()
    assert plan(d, state, oslo(2021, 1, 4, 9))[-1].skip_reason == "the process has ended"


def test_recorded_keys_are_never_planned_again():
    d, state = definition(), ProcessState()
    first = plan(d, state, oslo(2020, 3, 27, 9))
    state.recorded_keys.update(a.key for a in first)
    assert plan(d, state, oslo(2020, 3, 27, 9)) == []


def test_plan_refuses_a_naive_now():
    import pytest

    with pytest.raises(ValueError, match="aware"):
        plan(definition(), ProcessState(), datetime(2020, 4, 1, 9))


def test_a_reminder_sent_by_hand_today_replaces_the_scheduled_one():
    d = definition()
    state = ProcessState()
    invited(state, datetime(2020, 3, 27, 8, 0, tzinfo=UTC))
    # 20 April is five working days before the 27 April deadline: a reminder is due at 09:00.
    due = oslo(2020, 4, 20, 9, 5)
    assert [(a.kind, a.skip_reason) for a in plan(d, state, due)] == [(ActionKind.REMINDER, None)]
    state.messages[("s", "a")].append(
        Recorded("reminder", "manual-1", oslo(2020, 4, 20, 8, 0), date(2020, 4, 27))
    )
    assert [(a.kind, a.skip_reason) for a in plan(d, state, due)] == [
        (ActionKind.REMINDER, "a reminder was sent by hand today")
    ]
    # One sent by hand the day before does not stop today's.
    state.messages[("s", "a")][-1] = Recorded(
        "reminder", "manual-1", oslo(2020, 4, 17, 15, 0), date(2020, 4, 27)
    )
    assert [(a.kind, a.skip_reason) for a in plan(d, state, due)] == [(ActionKind.REMINDER, None)]
