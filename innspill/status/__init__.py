"""Where a process stands: each step's state, deadline and counts, from the database and `now`.

This is the one place that decides it: `innspill status`, the overview page and the process
page all show what `process_statuses` computes, and only word it differently. The package
re-exports its public names, so `from innspill.status import ...` works as before.
"""

from innspill.status.model import (
    ENGLISH,
    FailedMessage,
    ParticipantStatus,
    Phrase,
    ProcessStatus,
    StepState,
    StepStatus,
    is_late,
)
from innspill.status.progress import (
    current_step,
    process_status,
    process_statuses,
    progress_step,
)
from innspill.status.steps import Context

__all__ = [
    "ENGLISH",
    "Context",
    "FailedMessage",
    "ParticipantStatus",
    "Phrase",
    "ProcessStatus",
    "StepState",
    "StepStatus",
    "current_step",
    "is_late",
    "process_status",
    "process_statuses",
    "progress_step",
]
