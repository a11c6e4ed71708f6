"""The answers-over-time chart (innspill.dashboard.pages.chart) from a request step's status: where
it puts each answer, the deadline and extensions, and what it says in words."""

from __future__ import annotations

from datetime import date

from innspill.dashboard.pages.chart import answer_chart
from innspill.status import ParticipantStatus, StepStatus
from tests.conftest import oslo

OPENS = date(2020, 3, 30)


def person(
    key: str, answered: str | None, *, deadline: str = "2020-04-27", **flags: bool
) -> ParticipantStatus:
    return ParticipantStatus(
        participant=key,
        name=key.capitalize(),
        deadline=deadline,
        extended=flags.get("extended", False),
        invited=True,
        reminders=0,
        overdue_reminders=0,
        answered_at=answered,
        late=flags.get("late", False),
        answer_versions=1 if answered else 0,
        address_failing=False,
        overdue=flags.get("overdue", False),
    )


def step(*people: ParticipantStatus, overdue: int = 0, waiting: int = 0) -> StepStatus:
    return StepStatus(
        step="innspill",
        kind="request",
        title="Innspill til oppdraget",
        date="2020-04-27",
        state="open",
        deadline="2020-04-27",
        answered=sum(1 for p in people if p.answered_at),
        expected=len(people),
        extended=sum(1 for p in people if p.extended),
        participants=list(people),
        overdue=overdue,
        waiting=waiting,
    )


ROUND = step(
    person("a", "2020-04-02T10:15:00+02:00"),
    person("b", "2020-04-20T09:00:00+02:00"),
    person("c", "2020-04-29T12:00:00+02:00", late=True),
    person("d", None, deadline="2020-05-08", extended=True),
    person("e", None, overdue=True),
    overdue=1,
    waiting=1,
)


def test_the_answers_climb_as_a_staircase_inside_the_plot() -> None:
    chart = answer_chart(ROUND, opens=OPENS, now=oslo(2020, 5, 1, 8))
    assert chart is not None
    points = [tuple(map(float, p.split(","))) for p in chart.line.split()]
    xs, ys = [x for x, _ in points], [y for _, y in points]
    assert xs == sorted(xs) and ys == sorted(ys, reverse=True)  # time forward, count up
    assert all(chart.left <= x <= chart.right for x in xs)
    assert all(chart.top <= y <= chart.bottom for y in ys)
    assert ys[0] == chart.bottom and ys[-1] == chart.bottom - 3 / 5 * (chart.bottom - chart.top)
    assert [d.late for d in chart.dots] == [False, False, True]
    assert chart.dots[2].label == "C: for sent, 29. april 2020"
    # the deadline and the extension at the end of their days, and today between them
    marks = {m.kind: m for m in chart.marks}
    assert marks["deadline"].label == "Frist 27.4." and marks["extension"].label == "Utsatt 8.5."
    assert marks["deadline"].x < chart.dots[2].x < marks["today"].x < marks["extension"].x
    # "I dag" is four days after the deadline: its label goes on the second line, not over it
    assert [(m.kind, m.row) for m in chart.marks] == [
        ("deadline", 0),
        ("extension", 0),
        ("today", 1),
    ]
    assert [label for _, label in chart.x_ticks] == ["1. apr", "1. mai"]
    assert [label for _, label in chart.y_ticks] == ["0", "2", "4", "5"]


def test_the_numbers_in_words() -> None:
    chart = answer_chart(ROUND, opens=OPENS, now=oslo(2020, 5, 1, 8))
    assert chart is not None
    assert chart.summary == (
        "3 av 5 har svart: 2 innen fristen 27. april 2020 og 1 etter den. 2 har ikke svart: "
        "1 er over fristen, 1 har utsatt frist som ikke er ute."
    )
    early = step(person("a", "2020-04-02T10:15:00+02:00"), person("b", None))
    chart = answer_chart(early, opens=OPENS, now=oslo(2020, 4, 3, 8))
    assert chart is not None
    assert chart.summary == (
        "1 av 2 har svart innen fristen 27. april 2020. 1 har ikke svart: 1 har fristen foran seg."
    )
    done = step(person("a", "2020-04-02T10:15:00+02:00"))
    chart = answer_chart(done, opens=OPENS, now=oslo(2020, 6, 3, 8))
    assert chart is not None and chart.summary == "1 av 1 har svart innen fristen 27. april 2020."


def test_no_chart_before_the_step_opens_or_for_other_steps() -> None:
    assert answer_chart(ROUND, opens=OPENS, now=oslo(2020, 3, 29, 8)) is None
    meeting = StepStatus("mote", "meeting", "Møte", "2020-06-09", "open", "2020-06-09")
    assert answer_chart(meeting, opens=OPENS, now=oslo(2020, 5, 1, 8)) is None


def test_only_the_latest_of_many_extensions_is_labelled() -> None:
    many = step(
        *(person(f"p{n}", None, deadline=f"2020-05-{n + 1:02d}", extended=True) for n in range(9)),
        waiting=9,
    )
    chart = answer_chart(many, opens=OPENS, now=oslo(2020, 4, 28, 8))
    assert chart is not None
    labels = [m.label for m in chart.marks if m.kind == "extension"]
    assert labels == [""] * 8 + ["Utsatt 9.5."]


def test_a_long_finished_round_ends_two_weeks_after_its_last_date() -> None:
    """Seen long after, the chart does not stretch to today: the answers stay readable."""
    chart = answer_chart(ROUND, opens=OPENS, now=oslo(2021, 1, 1, 8))
    assert chart is not None
    assert "today" not in {m.kind for m in chart.marks}
    assert [label for _, label in chart.x_ticks] == ["1. apr", "1. mai"]
