"""The kill test beside the speed: `innspill send` killed mid-send, a second one at once, and the
messages that arrived twice, counted by Message-ID at a recording smtp-sink.

Speed must not be bought with duplicates: a connection sends its next message only when the
last one's mark is committed, so at most one message per connection (8) may arrive twice.
`bench.dispatch` runs this after its rates; `python -m bench.kill [--messages N]` alone.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.dispatch import CONNECTIONS, INVITED_AT, NOW, ROOT, free_port, make_definition

MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)
BOUNDARY = re.compile(rb'boundary="?([^";\r\n]+)"?', re.IGNORECASE)


@dataclass
class KillResult:
    messages: int
    at_kill: int  # messages the sink had when the sender was killed
    taken_over: int  # claims of the dead sender the second send took at once
    duplicates: int
    missing: int
    second_send_s: float


def _received(folder: Path) -> Counter[str]:
    """Message-ID -> complete copies (a copy cut off by the kill lacks its closing boundary)."""
    counts: Counter[str] = Counter()
    for path in folder.iterdir():
        data = path.read_bytes()
        found, boundary = MESSAGE_ID.search(data), BOUNDARY.search(data)
        if found and boundary and b"--" + boundary.group(1) + b"--" in data:
            counts[found.group(1).decode()] += 1
    return counts


def _setup(url: str, messages: int) -> list[str]:
    """A process of `messages` participants with a reminder due for each; their Message-IDs."""
    from sqlalchemy import select

    from bench.dispatch import _insert_invitations
    from innspill.engine import tick_process
    from innspill.models import OutboxMessage
    from innspill.models.db import make_engine, migrate, session_scope
    from innspill.process.loading import store_definition

    migrate(url)
    engine = make_engine(url)
    definition = make_definition(messages)
    with session_scope(engine) as session:
        store_definition(session, definition, source="<bench>", now=INVITED_AT)
    _insert_invitations(engine, definition)
    tick_process(engine, definition, now=NOW)
    t = OutboxMessage.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        ids = list(conn.execute(select(t.c.message_id).where(t.c.kind == "reminder")).scalars())
    engine.dispose()
    return ids


def kill_test(messages: int = 3000, smtp_sink: str = "/usr/sbin/smtp-sink") -> KillResult:
    """Kill a send when half the messages arrived, send again at once, count the copies."""
    with tempfile.TemporaryDirectory(prefix="innspill-bench-kill-") as tmp:
        base = Path(tmp)
        base.chmod(0o711)
        mail = base / "mail"
        mail.mkdir()
        mail.chmod(0o777)  # smtp-sink writes as nobody
        url = f"sqlite:///{base / 'innspill.db'}"
        ids = _setup(url, messages)
        port = free_port()
        command = [smtp_sink, "-d", f"{mail}/%Y%m%d%H%M%S.", f"127.0.0.1:{port}", "100"]
        if os.geteuid() == 0:
            command[1:1] = ["-u", "nobody"]
        sink = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        env = {k: v for k, v in os.environ.items() if not k.startswith("INNSPILL_")}
        env.update(
            INNSPILL_DATABASE_URL=url,
            INNSPILL_DATA_DIR=str(base / "data"),
            INNSPILL_SMTP_HOST="127.0.0.1",
            INNSPILL_SMTP_PORT=str(port),
            INNSPILL_SMTP_CONCURRENCY=str(CONNECTIONS),
            INNSPILL_SMTP_LEASE_SECONDS="300",
        )
        send = [sys.executable, "-m", "innspill.cli", "send", "--at", "2025-03-19T10:00"]
        try:
            time.sleep(0.3)
            child = subprocess.Popen(send, cwd=base, env=env, stdout=subprocess.DEVNULL)
            deadline = time.monotonic() + 120
            while sum(1 for _ in os.scandir(mail)) < messages // 2:
                if child.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the sender ended (or stalled) before the kill")
                time.sleep(0.002)
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            at_kill = sum(1 for _ in os.scandir(mail))
            started = time.monotonic()
            second = subprocess.run(send, cwd=base, env=env, capture_output=True, text=True)
            took = time.monotonic() - started
            time.sleep(0.3)
            received = _received(mail)
        finally:
            sink.terminate()
            sink.wait()
    if second.returncode != 0:
        raise SystemExit(f"the second send failed:\n{second.stdout}{second.stderr}")
    found = re.search(r"(\d+) message\(s\) claimed by a sender that died", second.stdout)
    return KillResult(
        messages,
        at_kill,
        int(found.group(1)) if found else 0,
        sum(1 for n in received.values() if n > 1),
        sum(1 for mid in ids if mid not in received),
        took,
    )


def describe(result: KillResult) -> str:
    ok = result.duplicates <= CONNECTIONS and result.missing == 0
    return (
        f"kill test: {result.messages} reminders, `innspill send` killed with {result.at_kill} "
        f"at the sink; the next send took over {result.taken_over} claims at once and finished "
        f"in {result.second_send_s:.1f} s: {result.duplicates} duplicate(s) (at most "
        f"{CONNECTIONS}, one per connection), {result.missing} missing  "
        + ("PASS" if ok else "FAIL")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.kill", description=__doc__)
    parser.add_argument("--messages", type=int, default=3000)
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    print(describe(kill_test(args.messages)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
