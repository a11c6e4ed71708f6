"""The layout the README describes: modules stay small, packages import only from below."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The folders whose modules are held to 400 lines (the command line and the demo's scenario
#: are lists of commands and events, and may run longer).
FOLDERS = ("innspill", "dashboard", "flows", "models", "config")
EXEMPT = ("innspill/cli/", "innspill/demo/", "models/migrations/")
MAX_LINES = 400


def test_every_module_is_under_400_lines() -> None:
    too_long = []
    for folder in FOLDERS:
        for path in (ROOT / folder).rglob("*.py"):
            name = path.relative_to(ROOT).as_posix()
            if path.is_symlink() or name.startswith(EXEMPT):
                continue
            lines = len(path.read_text().splitlines())
            if lines > MAX_LINES:
                too_long.append(f"{name}: {lines}")
    assert too_long == [], "split these by what they do: " + ", ".join(too_long)


def test_the_dashboard_is_laid_out_by_concern() -> None:
    dashboard = ROOT / "dashboard"
    packages = {p.name for p in dashboard.iterdir() if (p / "__init__.py").exists()}
    assert {"pages", "actions", "answer", "auth", "documents"} <= packages
    loose = sorted(p.name for p in dashboard.glob("*.py"))
    assert loose == ["__init__.py", "app.py", "deps.py", "labels.py"], loose
