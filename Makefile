# The two set-up commands of the README. Both install uv (from PyPI) if it is missing,
# then let uv build .venv from uv.lock.
.PHONY: demo check coverage catalogs uv

# These machines set PYTHONDONTWRITEBYTECODE and uv compiles no bytecode by default, so every
# command compiled about 1,000 modules: `innspill --help` took 2.6-3.4 s, 0.55-0.66 s with it.
export UV_COMPILE_BYTECODE := 1

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet 'uv>=0.5'

# --no-dev: the demo needs none of the test tools (pytest, Playwright, mypy, ruff). `uv run`
# syncs inexactly, so where `make check` installed them they stay and it is not slowed down.
demo: uv
	uv run --frozen --no-dev innspill demo

check: uv
	bash scripts/check

# The same, with branch coverage of the SQLite pass (slower: CI runs `check`).
coverage: uv
	INNSPILL_TEST_COVERAGE=1 bash scripts/check

# Extract the interface's texts and update and compile the nb and nn catalogs (innspill/locale).
catalogs: uv
	bash scripts/catalogs
