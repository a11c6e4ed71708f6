"""Checking a large process file: `innspill validate` and the dashboard's /load check.

Run: `uv run --frozen python -m bench.check [--participants N] [--runs R]`. A process file of
N participants (default 8,000, about 1.4 MB; the one bench.scale writes) is checked:

- `innspill validate FILE` in a subprocess (a cold start, as an operator runs it): median
  wall and CPU seconds;
- the /load check in-process (`dashboard.actions.load._examine`: parse, validate, the load's
  change list, the forecast lines it adds and removes, the diff), warm (the second of two),
  for a new process and for an update of the loaded one (a moved deadline): CPU seconds.

The target is under a second for each. The machines are shared: read the CPU figures. Exits 0
whatever the numbers are.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.scale import NOW, definition_toml

TARGET = 1.0  # s


def validate(path: Path, runs: int) -> tuple[float, float]:
    """Median wall and CPU seconds of `innspill validate path` in a subprocess."""
    command = [sys.executable, "-m", "innspill.cli", "validate", str(path)]
    env = {**os.environ, "INNSPILL_DATA_DIR": str(path.parent / "data")}
    walls, cpus = [], []
    for _ in range(runs + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        walls.append(time.perf_counter() - started)
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return statistics.median(walls[1:]), statistics.median(cpus[1:])


def load_check(folder: Path, text: str, *, update: bool) -> float:
    """CPU seconds of the warm /load check of `text` (an update of the loaded file if asked)."""
    from sqlmodel import Session

    from innspill.dashboard.actions import load
    from innspill.dashboard.actions.upload_bundle import Upload
    from innspill.models.db import make_engine, migrate, session_scope
    from innspill.process.loading import get_definition, load_file

    url = f"sqlite:///{folder}/check-{'update' if update else 'new'}.db"
    migrate(url)
    engine = make_engine(url)
    if update:
        (folder / "stor.toml").write_text(text, "utf-8")
        with session_scope(engine) as session:
            load_file(session, folder / "stor.toml", now=NOW)
        text = text.replace("deadline = 2025-03-21", "deadline = 2025-03-24")
    upload = Upload("stor.toml", {"stor.toml": text.encode()})
    cpu = 0.0
    with Session(engine) as db:
        if update:
            get_definition(db, "stor-runde")  # the dashboard has the loaded one parsed
        for _ in range(2):
            started = time.process_time()
            context = load._examine(db, upload, NOW, "bench")
            cpu = time.process_time() - started
    engine.dispose()
    assert context.get("outcome") in ("created", "updated"), context.get("problems")
    return cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=8000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    text = definition_toml("stor-runde", args.participants)

    def mark(ok: bool) -> str:
        return "PASS" if ok else "ABOVE TARGET"

    with tempfile.TemporaryDirectory(prefix="bench-check-") as name:
        folder = Path(name)
        path = folder / "stor.toml"
        path.write_text(text, "utf-8")
        size = len(text.encode()) / 1024 / 1024
        print(
            f"bench.check: {args.participants} participants ({size:.1f} MB), {os.cpu_count()} cores"
        )
        wall, cpu = validate(path, args.runs)
        print(f"innspill validate      wall {wall:6.3f} s  CPU {cpu:6.3f} s   {mark(cpu < TARGET)}")
        for update in (False, True):
            cpu = load_check(folder, text, update=update)
            what = "/load check, update" if update else "/load check, new   "
            print(f"{what}    CPU {cpu:6.3f} s   {mark(cpu < TARGET)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
