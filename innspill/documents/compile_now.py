"""Make a compilation now, by hand: `innspill compile` and the dashboard's "Lag sammenstilling nå".

The same version the ticks would make (the answers received by `now`, theme by theme); nothing
is overwritten, and with no new answers since the last version nothing is made. The next tick
sends a new version to the drafters, as it does one it made itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from innspill.documents.store import latest, make_compilation
from innspill.errors import InnspillError
from innspill.models import Document
from innspill.planning.after_deadline import answers_basis
from innspill.planning.state import load_state
from innspill.process.definition import CompilationStep, ProcessDefinition


@dataclass(frozen=True)
class Compiled:
    document: Document
    made: bool  # False: the latest version already had every answer (and is `document`)


def compilation_step(definition: ProcessDefinition, step_id: str | None) -> CompilationStep:
    """The compilation step named, or the process's only one; refused when there is none."""
    steps = [s for s in definition.steps if isinstance(s, CompilationStep)]
    chosen = next((s for s in steps if s.id == step_id), None) if step_id else None
    if chosen is None:
        if step_id or len(steps) != 1:
            names = ", ".join(s.id for s in steps) or "none"
            raise InnspillError(f"name the compilation step (this process has: {names})")
        chosen = steps[0]
    return chosen


def compile_now(
    session: Session,
    definition: ProcessDefinition,
    step_id: str | None,
    *,
    now: datetime,
    by: str,
) -> Compiled:
    """A new version of the step's compilation, unless the latest has every answer already.

    Raises InnspillError when nobody has answered the source step yet (make_compilation)."""
    step = compilation_step(definition, step_id)
    basis, _ = answers_basis(load_state(session, definition), step.source, now)
    previous = latest(session, definition.id, step.id, "compilation")
    if previous is not None and previous.basis == basis:
        return Compiled(previous, made=False)
    document = make_compilation(session, definition, step.id, now=now, basis=basis, by=by)
    return Compiled(document, made=True)
