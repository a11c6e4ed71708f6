# The two set-up commands of the README. Both install uv (from PyPI) if it is missing,
# then let uv build .venv from uv.lock.
.PHONY: demo check uv

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet 'uv>=0.5'

demo: uv
	uv run --frozen innspill demo

check: uv
	bash scripts/check
