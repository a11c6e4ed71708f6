"""The exceptions innspill raises, in one small hierarchy."""

from __future__ import annotations

from dataclasses import dataclass


class InnspillError(Exception):
    """Base class: every error meant for the user derives from it."""


@dataclass(frozen=True)
class Problem:
    """One problem found in a process file: where, which field, what is wrong."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        return f"{where}: {self.message}"


class DefinitionError(InnspillError):
    """A process file is invalid; carries one Problem per mistake."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the process file:\n{lines}")


class ChangeRefused(InnspillError):
    """An update to a loaded process would rewrite what has already happened."""


class UnknownProcess(InnspillError):
    """No process with that id is loaded."""


class HeaderInjection(InnspillError):
    """A header value contains a line break (literal or encoded)."""


class DatabaseUnavailable(InnspillError):
    """The database cannot be reached or opened."""


class DatabaseLocked(DatabaseUnavailable):
    """SQLite stayed locked by another process for longer than the wait allows."""


class SchemaTooNew(InnspillError):
    """The database was migrated by a newer innspill than this one."""


class SecretKeyMismatch(InnspillError):
    """This process's secret key is not the one the database was set up with."""


class DemoFolderRefused(InnspillError):
    """The demo's data folder holds files the demo did not write, so it is left alone."""


class RunFailed(InnspillError):
    """A Prefect run failed; its one-line text (the run's state message) says what to do."""


class TickConflict(InnspillError):
    """A tick's write broke a constraint that a concurrent tick cannot explain."""


class ConversionFailed(InnspillError):
    """A document could not be made into PDF/A; the text says why (recorded, then shown)."""


class ExportRefused(InnspillError):
    """A process is not ready for a Noark 5 extract; one reason a line (see `reasons`)."""

    def __init__(self, process_id: str, reasons: list[str]):
        self.reasons = reasons
        lines = "\n".join(f"  - {r}" for r in reasons)
        super().__init__(f"{process_id} is not ready for an archive extract:\n{lines}")
