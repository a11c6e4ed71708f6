"""The `innspill` command line; each module below adds its commands to the one app."""

# ruff: noqa: I001  (the import order is the order of the commands in --help)
from innspill.cli.common import app
from innspill.cli import processes, journal, mail, steps, inbox, archive, run, users, doctor  # noqa: F401  (they register commands)

__all__ = ["app"]
