"""A real Prefect server (`prefect server start`) in a subprocess, and `innspill serve` beside it.

Used by tests/test_prefect_server.py and bench/served_tick.py. The server has its own
PREFECT_HOME (and so its own SQLite database) in a temp dir and listens on a free loopback port;
it is the same server an administrator runs, with its scheduler, unlike the test harness.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from tests.smtp_sink import free_port

BIN = Path(sys.executable).parent
QUIET = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_LEVEL": "WARNING",
}
TICK = "tick/innspill-tick"


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any PREFECT_* or INNSPILL_* value, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "INNSPILL_"))}
    env.update(QUIET)
    env.update(extra)
    return env


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} not written)"


def stop(process: subprocess.Popen[bytes], *, sig: int = signal.SIGINT, wait: float = 30) -> None:
    """Ask a child to stop as Ctrl+C would; kill it (and its group) if it does not."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(sig)
    try:
        process.wait(wait)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


@dataclass
class PrefectServer:
    """`prefect server start` on a free port, with the scheduler looking every few seconds."""

    home: Path
    port: int = field(default_factory=free_port)
    scheduler_loop_seconds: int = 5
    process: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def log(self) -> Path:
        return self.home / "server.log"

    def start(self, timeout: float = 180) -> PrefectServer:
        self.home.mkdir(parents=True, exist_ok=True)
        env = clean_env(
            PREFECT_HOME=str(self.home),
            PREFECT_UI_ENABLED="false",
            # The scheduler is what is under test; it only looks more often than its 60 s.
            PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS=str(self.scheduler_loop_seconds),
            PREFECT_LOGGING_SERVER_LEVEL="WARNING",
        )
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1",
                 "--port", str(self.port)],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prefect server start exited:\n{tail(self.log)}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200:
                    return self
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"prefect server did not answer in {timeout:.0f} s:\n{tail(self.log)}")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, sig=signal.SIGTERM)

    # A few calls of the server's REST API; the test reads what the UI would show.
    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        # On SQLite the server answers 503 while its database is locked; Prefect's own
        # client retries those too.
        for attempt in range(6):
            response = httpx.request(method, f"{self.api_url}{path}", json=body, timeout=30)
            if response.status_code not in (502, 503) or attempt == 5:
                break
            time.sleep(0.5 * 2**attempt)
        response.raise_for_status()
        return response.json() if response.content else None

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.request("POST", path, body)

    def deployment(self, name: str = TICK) -> dict[str, Any] | None:
        try:
            return self.get(f"/deployments/name/{name}")  # type: ignore[no-any-return]
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code == 404:
                return None
            raise

    def delete_deployment(self, name: str = TICK) -> None:
        found = self.deployment(name)
        if found:
            self.request("DELETE", f"/deployments/{found['id']}")

    def runs(self, deployment_id: str) -> list[dict[str, Any]]:
        return self.post(  # type: ignore[no-any-return]
            "/flow_runs/filter",
            {"flow_runs": {"deployment_id": {"any_": [deployment_id]}}, "limit": 200},
        )

    def wait_for(
        self, what: str, found: Callable[[], Any], *, timeout: float, every: float = 2
    ) -> Any:
        """Poll `found` until it returns something true; fail with `what` after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = found()
            if value:
                return value
            time.sleep(every)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@contextlib.contextmanager
def prefect_server(home: Path) -> Iterator[PrefectServer]:
    server = PrefectServer(home).start()
    try:
        yield server
    finally:
        server.stop()


def innspill(*args: str, env: dict[str, str], timeout: float = 600) -> str:
    """Run the `innspill` command as an administrator would; its output, or an error."""
    done = subprocess.run(
        [str(BIN / "innspill"), *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise AssertionError(
            f"innspill {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout


def start_serve(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`innspill serve` in its own process group (its flow runs are its children)."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(BIN / "innspill"), "serve"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def is_scheduled(run: dict[str, Any]) -> bool:
    """Created by the server's scheduler from the deployment's schedule, not by hand."""
    return bool(run.get("auto_scheduled")) and str(run.get("idempotency_key", "")).startswith(
        "scheduled "
    )


def state_of(run: dict[str, Any]) -> str:
    return str((run.get("state") or {}).get("type", ""))


def process_toml(
    process_id: str, participants: int, *, opens: date, deadline: date, ends: date
) -> str:
    """A process with one request step to `participants` bodies (reserved .example addresses)."""
    lines = [
        "[process]",
        f'id = "{process_id}"',
        'title = "Innspill til prøveprosessen"',
        'reference = "25/00001"',
        'language = "nb"',
        f"ends = {ends.isoformat()}",
        "",
        "[sender]",
        'organisation = "Eksempeletaten"',
        'unit = "Avdeling for prøver"',
        'email = "innspill@etaten.example"',
        'case_officer = "Kari Nordmann"',
        'signature_name = "Ola Nordmann"',
        'signature_title = "Direktør"',
        'address_lines = ["Eksempeletaten", "Postboks 0000", "0000 EKSEMPEL"]',
        "",
    ]
    for n in range(1, participants + 1):
        lines += [
            "[[participants]]",
            f'id = "deltaker-{n:05d}"',
            f'name = "Sekretariat {n}"',
            'role = "secretariat"',
            f'email = "sekretariat-{n:05d}@{process_id}.example"',
            "",
        ]
    lines += [
        "[[themes]]",
        'id = "rolle"',
        'title = "Funksjon, rolle og ansvar"',
        'questions = ["Hva fungerer godt i dag?"]',
        "",
        "[[steps]]",
        'id = "innspill"',
        'kind = "request"',
        'title = "Innspill"',
        f"opens = {opens.isoformat()}",
        f"deadline = {deadline.isoformat()}",
        "reminders = { before = [2], overdue_max = 0, hour = 9 }",
        "",
    ]
    return "\n".join(lines)
