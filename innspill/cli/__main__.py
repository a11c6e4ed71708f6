"""`python -m innspill.cli`: the same as the `innspill` command."""

from innspill.cli import app

app()
