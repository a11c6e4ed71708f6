"""The rule for a deadline on a day off, alone: the process file's checks need it, and they
should not import the database (innspill.process.deadlines, which uses it, does)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from innspill.process.workdays import next_working_day

if TYPE_CHECKING:
    from innspill.process.schema import ProcessDefinition

__all__ = ["in_effect"]


def in_effect(definition: ProcessDefinition, written: date) -> date:
    """The deadline in effect for a deadline as written (in the file, a change or an extension):
    on a weekend or public holiday it runs to the next working day, unless the process keeps
    deadlines as written (`[process] holiday_deadlines = "as_written"`)."""
    if definition.process.holiday_deadlines == "as_written":
        return written
    return next_working_day(written)
