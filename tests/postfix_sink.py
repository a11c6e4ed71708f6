"""Postfix's smtp-sink as an SMTP recorder outside our own stack: one file per message received.

Counting deliveries by Message-ID in its files checks the sender against a server we did not
write (the aiosmtpd recorder shares our process and our asyncio).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.smtp_sink import free_port

SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)
BOUNDARY = re.compile(rb'boundary="?([^";\r\n]+)"?', re.IGNORECASE)


class PostfixSink:
    """Runs `smtp-sink -d DIR/%Y%m%d%H%M%S. -u nobody 127.0.0.1:PORT 100` until stopped."""

    def __init__(self) -> None:
        # Not under pytest's tmp_path: its folders are private to us, and smtp-sink writes as
        # nobody, so it needs a path it can traverse.
        self.base = Path(tempfile.mkdtemp(prefix="innspill-smtp-sink-"))
        self.base.chmod(0o711)
        self.folder = self.base / "mail"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> PostfixSink:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o777)  # smtp-sink writes as nobody
        command = [SMTP_SINK, "-d", f"{self.folder}/%Y%m%d%H%M%S.", "127.0.0.1:" + str(self.port)]
        if os.geteuid() == 0:
            command[3:3] = ["-u", "nobody"]
        self.log = (self.base / "smtp-sink.log").open("wb")
        self.process = subprocess.Popen([*command, "100"], stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("smtp-sink did not start") from None
                time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.log.close()
        shutil.rmtree(self.base, ignore_errors=True)

    def problems(self) -> str:
        """What smtp-sink logged (it logs only problems)."""
        return (self.base / "smtp-sink.log").read_text(errors="replace")

    def files(self) -> int:
        """How many message files there are (cheap: for watching progress)."""
        with os.scandir(self.folder) as entries:
            return sum(1 for _ in entries)

    def received(self) -> Counter[str]:
        """Message-ID -> how many complete copies arrived.

        A copy cut off by a client killed mid-DATA was never accepted (no final dot): it lacks
        the closing MIME boundary and is not counted.
        """
        counts: Counter[str] = Counter()
        for path in self.folder.iterdir():
            data = path.read_bytes()
            found = MESSAGE_ID.search(data)
            boundary = BOUNDARY.search(data)
            if found and boundary and b"--" + boundary.group(1) + b"--" in data:
                counts[found.group(1).decode()] += 1
        return counts


def need_smtp_sink() -> None:
    """Fail in CI, skip elsewhere, when Postfix's smtp-sink is not installed."""
    if not Path(SMTP_SINK).exists():
        message = "Postfix's smtp-sink is missing: apt-get install postfix"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
