"""How the answers to a request step came in against its deadline: a small chart drawn on the
server (the `answer_chart` macro renders it as SVG, no script), and the same numbers in words.

Everything comes from the step's status in innspill.status (each participant's first answer
and deadline); this module only places it on a grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from innspill.dashboard.labels import fmt_date
from innspill.i18n import _
from innspill.process.workdays import OSLO
from innspill.status import StepStatus

#: The drawing's own units (the SVG scales to the width it gets).
WIDTH, HEIGHT = 560, 230
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 52, 36
MONTHS = ["jan", "feb", "mar", "apr", "mai", "jun", "jul", "aug", "sep", "okt", "nov", "des"]


@dataclass
class Mark:
    """A vertical line at a date, with its label (deadline, extension, today) if any."""

    x: float
    label: str
    kind: str  # deadline, extension, today: its CSS class
    row: int = 0  # the label's line above the plot (0 nearest), so that labels do not overlap
    anchor: str = "middle"  # where the label sits on its line: start, middle or end


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    late: bool
    label: str  # for the dot's own <title>


@dataclass
class AnswerChart:
    """One request step's answers over time: geometry in drawing units and the numbers."""

    step: str
    title: str
    expected: int
    answered: int
    in_time: int
    late: int
    overdue: int
    waiting: int
    deadline: date
    line: str  # the polyline's points: answers so far, as a staircase
    dots: list[Dot] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM

    @property
    def summary(self) -> str:
        """The chart in one or two sentences: what a screen reader says, what anyone can read."""
        if not self.expected:
            return _("Ingen er spurt i dette steget.")
        deadline = fmt_date(self.deadline)
        if self.late:
            said = _(
                "%(answered)s av %(expected)s har svart: %(in_time)s innen fristen "
                "%(deadline)s og %(late)s etter den.",
                answered=self.answered,
                expected=self.expected,
                in_time=self.in_time,
                deadline=deadline,
                late=self.late,
            )
        else:
            said = _(
                "%(answered)s av %(expected)s har svart innen fristen %(deadline)s.",
                answered=self.answered,
                expected=self.expected,
                deadline=deadline,
            )
        missing = self.expected - self.answered
        if missing <= 0:
            return said
        words = []
        if self.overdue:
            words.append(_("%(n)s er over fristen", n=self.overdue))
        if self.waiting:
            words.append(_("%(n)s har utsatt frist som ikke er ute", n=self.waiting))
        rest = missing - self.overdue - self.waiting
        if rest > 0:
            words.append(_("%(n)s har fristen foran seg", n=rest))
        return _(
            "%(said)s %(n)s har ikke svart: %(which)s.",
            said=said,
            n=missing,
            which=", ".join(words),
        )


def _local(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(OSLO)


def answer_chart(step: StepStatus, *, opens: date, now: datetime) -> AnswerChart | None:
    """The chart of a request step's answers up to `now`; None for other steps or before the
    step opens (nothing to show), or without the participants' detail."""
    if step.kind != "request" or step.deadline is None or not step.participants:
        return None
    deadline = date.fromisoformat(step.deadline)
    today = now.astimezone(OSLO).date()
    if today < opens:
        return None
    answers = sorted(_local(p.answered_at) for p in step.participants if p.answered_at)
    late = sum(1 for p in step.participants if p.answered_at and p.late)
    extensions = sorted({date.fromisoformat(p.deadline) for p in step.participants if p.extended})
    last_day = max([deadline, *extensions, *(a.date() for a in answers)])
    # the chart runs from the opening to the last deadline or answer, or to today if later,
    # a day beyond, so that a mark on the last day is not on the edge
    end_day = max(last_day, min(today, last_day + timedelta(days=14))) + timedelta(days=1)
    start = datetime.combine(opens, time(0), OSLO)
    end = datetime.combine(end_day, time(0), OSLO)
    span = (end - start).total_seconds()
    chart = AnswerChart(
        step=step.step,
        title=step.title,
        expected=step.expected,
        answered=len(answers),
        in_time=len(answers) - late,
        late=late,
        overdue=step.overdue,
        waiting=step.waiting,
        deadline=deadline,
        line="",
    )
    plot_w = chart.right - chart.left
    plot_h = chart.bottom - chart.top
    top_count = max(step.expected, len(answers), 1)

    def x_of(moment: datetime) -> float:
        share = min(max((moment - start).total_seconds() / span, 0.0), 1.0)
        return round(chart.left + share * plot_w, 1)

    def y_of(count: int) -> float:
        return round(chart.bottom - count / top_count * plot_h, 1)

    def day_end(day: date) -> datetime:
        return datetime.combine(day + timedelta(days=1), time(0), OSLO)

    now_or_end = min(now.astimezone(OSLO), end)
    points = [(x_of(start), y_of(0))]
    for n, moment in enumerate(answers, start=1):
        x = x_of(moment)
        points += [(x, y_of(n - 1)), (x, y_of(n))]
    points.append((x_of(now_or_end), y_of(len(answers))))
    chart.line = " ".join(f"{x},{y}" for x, y in points)
    by_time = sorted(
        (p for p in step.participants if p.answered_at), key=lambda p: p.answered_at or ""
    )
    chart.dots = [
        Dot(
            x_of(_local(p.answered_at)),
            y_of(n),
            p.late,
            f"{p.name}: {_('for sent') if p.late else _('i tide')}, {fmt_date(p.answered_at)}",
        )
        for n, p in enumerate(by_time, start=1)
        if p.answered_at
    ]
    chart.marks = [Mark(x_of(day_end(deadline)), f"Frist {_short(deadline)}", "deadline")]
    # every extension gets its line, only the latest its label (there may be many)
    chart.marks += [
        Mark(x_of(day_end(d)), f"Utsatt {_short(d)}" if d == extensions[-1] else "", "extension")
        for d in extensions
    ]
    if start <= now < end:
        chart.marks.append(Mark(x_of(now), "I dag", "today"))
    _place_labels(chart)
    months = _months(opens, end_day)
    chart.x_ticks = [(x_of(datetime.combine(d, time(0), OSLO)), label) for d, label in months]
    step_size = max(1, -(-top_count // 4))
    chart.y_ticks = [(y_of(n), str(n)) for n in range(0, top_count + 1, step_size)]
    if chart.y_ticks[-1][1] != str(top_count):
        chart.y_ticks.append((y_of(top_count), str(top_count)))
    return chart


#: A label's width per character in drawing units (bold 13 px; 19 px on a phone, scaled).
CHAR_WIDTH = 9.5


def _place_labels(chart: AnswerChart) -> None:
    """Each label on the lower of two lines where it does not overlap one already placed."""
    taken: list[list[tuple[float, float]]] = [[], []]
    for mark in sorted((m for m in chart.marks if m.label), key=lambda m: m.x):
        width = len(mark.label) * CHAR_WIDTH
        if mark.x + width / 2 > chart.right:
            mark.anchor, span = "end", (mark.x - width, mark.x)
        elif mark.x - width / 2 < chart.left:
            mark.anchor, span = "start", (mark.x, mark.x + width)
        else:
            span = (mark.x - width / 2, mark.x + width / 2)
        free = [
            row
            for row, spans in enumerate(taken)
            if all(span[1] + 4 < a or b + 4 < span[0] for a, b in spans)
        ]
        mark.row = free[0] if free else min(range(2), key=lambda r: len(taken[r]))
        taken[mark.row].append(span)


def _short(day: date) -> str:
    return f"{day.day}.{day.month}."


def _months(first: date, last: date) -> list[tuple[date, str]]:
    """The first of each month between the two days (the opening day when none), as labels."""
    out: list[tuple[date, str]] = []
    day = date(first.year, first.month, 1)
    while day <= last:
        if day >= first:
            out.append((day, f"1. {MONTHS[day.month - 1]}"))
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return out or [(first, _short(first))]
