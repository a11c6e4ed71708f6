"""The secret key file: made once, readable by its owner only, the same for simultaneous
first runs (several `serve`s or a `tick` and the dashboard started together)."""

from __future__ import annotations

import stat
import subprocess
import sys
import time
from pathlib import Path

# Each process imports, says it is ready, and waits for the go file: then all make the key
# at once.
SCRIPT = """
import os, sys, time
from innspill.config.settings import Settings
print("ready", flush=True)
while not os.path.exists(sys.argv[2]):
    time.sleep(0.001)
print(Settings(data_dir=sys.argv[1], secret_key=None).resolved_secret_key())
"""


def test_simultaneous_first_runs_agree_on_one_key(tmp_path: Path) -> None:
    data, go = tmp_path / "data", tmp_path / "go"
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, str(data), str(go)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    for run in runs:
        assert run.stdout is not None and run.stdout.readline().strip() == "ready"
    time.sleep(0.05)
    go.touch()
    keys = {run.communicate(timeout=60)[0].strip() for run in runs}
    assert all(run.returncode == 0 for run in runs)
    assert len(keys) == 1 and len(keys.pop()) >= 32
    key_file = data / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [p.name for p in data.iterdir()] == ["secret_key"]  # no temporary file left
