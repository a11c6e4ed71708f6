"""Dispatch benchmark: render, store, send and mark N reminders, against SMTP baselines.

Run: `python -m bench.dispatch [--messages N] [--quick]`. Everything talks to one SMTP sink
in a separate process on 127.0.0.1 (Postfix's `smtp-sink` when installed, else an aiosmtpd
sink), so the client side is what is measured. The innspill part runs in a subprocess of its
own so that its peak RSS is the innspill run's alone. Exits 0 whatever the numbers are: the
machine is noisy; read the PASS / BELOW TARGET marks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
OSLO = ZoneInfo("Europe/Oslo")

PROCESS_ID = "bench-dispatch"
STEP_ID = "innspill"
OPENS = date(2025, 3, 3)  # a Monday; no Norwegian holiday until Easter (20 April)
DEADLINE = date(2025, 3, 21)  # a Friday: the "2 working days before" reminder is due 19 March
NOW = datetime(2025, 3, 19, 10, 0, tzinfo=OSLO).astimezone(UTC)  # inside the send window
INVITED_AT = datetime(2025, 3, 3, 9, 0, tzinfo=OSLO).astimezone(UTC)
REMINDER_SEQUENCE = f"{DEADLINE.isoformat()}/-2"

CONNECTIONS = 8
CHUNK = 1000  # rows per bulk insert in the "rows" path

TARGET_VS_AIOSMTPLIB = 0.9  # send+mark (issue 19)
TARGET_END_TO_END_VS_AIOSMTPLIB = 0.6
TARGET_VS_SMTPLIB = 1.5
TARGET_RSS_MB = 300


# --------------------------------------------------------------------------- the process


def definition_toml(participants: int) -> str:
    """A process file with `participants` participants (reserved .example addresses)."""
    lines = [
        "[process]",
        f'id = "{PROCESS_ID}"',
        'title = "Innspill til retningslinjer for ytelsestesting av utsendelser"',
        'reference = "25/12345"',
        'language = "nb"',
        "ends = 2025-06-30",
        "",
        "[sender]",
        'organisation = "Eksempeletaten"',
        'unit = "Avdeling for utsendelser"',
        'email = "innspill@etaten.example"',
        'case_officer = "Kari Nordmann"',
        'signature_name = "Ola Nordmann"',
        'signature_title = "Direktør, Avdeling for utsendelser"',
        'address_lines = ["Eksempeletaten", "Postboks 0000", "0000 EKSEMPEL"]',
        "",
    ]
    for n in range(1, participants + 1):
        lines += [
            "[[participants]]",
            f'id = "deltaker-{n:06d}"',
            f'name = "Sekretariatet for byvekstavtalen i eksempelkommune {n}"',
            'role = "secretariat"',
            f'email = "sekretariat-{n:06d}@kommune.example"',
            "",
        ]
    themes = [
        ("rolle", "Funksjon, rolle og ansvar"),
        ("kommunikasjon", "Kommunikasjon, representasjon og møtevirksomhet"),
        ("okonomi", "Økonomi og kostnadsstyring"),
        ("organisering", "Organisering"),
    ]
    for theme_id, title in themes:
        lines += [
            "[[themes]]",
            f'id = "{theme_id}"',
            f'title = "{title}"',
            'questions = ["Hva fungerer godt i dag?", "Hva bør endres?"]',
            "",
        ]
    lines += [
        "[[steps]]",
        f'id = "{STEP_ID}"',
        'kind = "request"',
        'title = "Innspill til retningslinjene"',
        'audience = ["secretariat"]',
        f"opens = {OPENS.isoformat()}",
        f"deadline = {DEADLINE.isoformat()}",
        "reminders = { before = [2], overdue_max = 0, hour = 9 }",
        "",
    ]
    return "\n".join(lines)


def make_definition(participants: int) -> Any:
    from innspill.process.definition import parse_definition

    return parse_definition(definition_toml(participants), file="<bench>")


def reminder_action(participant_id: str) -> Any:
    from innspill.planning.planner import Action, ActionKind

    return Action(
        PROCESS_ID,
        STEP_ID,
        participant_id,
        ActionKind.REMINDER,
        REMINDER_SEQUENCE,
        DEADLINE,
        working_days_left=2,
    )


def sample_message() -> tuple[bytes, str, str, str, str]:
    """One reminder as innspill renders it: (raw bytes, sender, subject, text, html)."""
    from innspill.outbound.compose import message_context, outbox_row
    from innspill.outbound.templates import render

    definition = make_definition(1)
    action = reminder_action(definition.participants[0].id)
    row = outbox_row(definition, action, now=NOW)
    rendered = render(
        "reminder",
        "nb",
        message_context(definition, action, now=NOW, reply_to=str(definition.sender.email)),
    )
    return row.raw, row.sender, rendered.subject, rendered.text, rendered.html


def recipients(n: int) -> list[str]:
    return [f"sekretariat-{i:06d}@kommune.example" for i in range(1, n + 1)]


# --------------------------------------------------------------------------- the sink


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def smtp_sink_path() -> str | None:
    return shutil.which("smtp-sink") or next(
        (p for p in ("/usr/sbin/smtp-sink", "/usr/bin/smtp-sink") if os.access(p, os.X_OK)), None
    )


@dataclass
class Sink:
    port: int
    description: str


@contextmanager
def sink(kind: str = "auto") -> Iterator[Sink]:
    """Start an SMTP sink on a free loopback port in its own process; stop it afterwards."""
    port = free_port()
    binary = smtp_sink_path() if kind in ("auto", "smtp-sink") else None
    if binary:
        command = [binary]
        if os.geteuid() == 0:
            command += ["-u", "nobody"]  # smtp-sink refuses to run as root without -u
        command += [f"127.0.0.1:{port}", "256"]
        description = f"Postfix smtp-sink ({binary})"
    else:
        if kind == "smtp-sink":
            raise SystemExit(NO_SMTP_SINK)
        command = [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{port}",
            "-c",
            "aiosmtpd.handlers.Sink",
        ]
        description = "aiosmtpd Sink in a subprocess" + (
            " (FALLBACK: smtp-sink is not installed)" if kind == "auto" else ""
        )
    # stderr goes to a file, not a pipe: a chatty sink can never block on it.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
        try:
            _wait_for_greeting(process, port, log, command)
            yield Sink(port, description)
        finally:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for_greeting(
    process: subprocess.Popen[bytes], port: int, log: Any, command: list[str]
) -> None:
    deadline = time.monotonic() + 15
    while True:
        if process.poll() is not None:
            log.seek(0)
            error = log.read().decode(errors="replace")
            raise SystemExit(f"the SMTP sink exited at once: {command}\n{error}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                probe.recv(512)  # the greeting
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"the SMTP sink did not listen on port {port}") from None
            time.sleep(0.05)


NO_SMTP_SINK = (
    "Postfix's smtp-sink is not installed; install it with\n"
    "  echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections\n"
    "  DEBIAN_FRONTEND=noninteractive apt-get install -y postfix\n"
    "(or run without --sink smtp-sink to fall back to an aiosmtpd sink)."
)


# --------------------------------------------------------------------------- innspill


def _insert_invitations(engine: Any, definition: Any) -> None:
    """Setup: every participant was invited on the opening day (rows already sent)."""
    from sqlalchemy import insert

    from innspill.models import OutboxMessage
    from innspill.outbound.mime import message_id_for

    t = OutboxMessage.__table__  # type: ignore[attr-defined]
    rows = []
    for p in definition.participants:
        key = f"{PROCESS_ID}/{STEP_ID}/{p.id}/invitation/1"
        rows.append(
            {
                "key": key,
                "process_id": PROCESS_ID,
                "step_key": STEP_ID,
                "participant_key": p.id,
                "kind": "invitation",
                "sequence": "1",
                "message_id": message_id_for(key, "etaten.example"),
                "sender": str(definition.sender.email),
                "recipient": str(p.email),
                "subject": "Invitasjon",
                "deadline": DEADLINE,
                "raw": b"",
                "status": "sent",
                "attempts": 1,
                "last_error": None,
                "created_at": INVITED_AT,
                "next_attempt_at": INVITED_AT,
                "sent_at": INVITED_AT,
            }
        )
    with engine.begin() as conn:
        for start in range(0, len(rows), CHUNK):
            conn.execute(insert(t), rows[start : start + CHUNK])


def _render_and_store_rows(engine: Any, definition: Any, timers: Timers) -> int:
    """The "rows" path: outbox_row() for a reminder per participant, Core bulk inserts."""
    from innspill.models import Event, OutboxMessage
    from innspill.outbound.compose import outbox_row

    t = OutboxMessage.__table__  # type: ignore[attr-defined]
    e = Event.__table__  # type: ignore[attr-defined]
    columns = [c.name for c in t.columns if c.name != "id"]
    count = 0

    timers.wrap(sys.modules[__name__], "_bulk_insert", "Core bulk inserts (outbox + events)")
    with engine.begin() as conn:
        batch: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for participant in definition.participants:
            action = reminder_action(participant.id)
            row = outbox_row(definition, action, now=NOW)
            values = {c: getattr(row, c) for c in columns}
            values["status"] = str(values["status"])
            batch.append(values)
            events.append(
                {
                    "process_id": PROCESS_ID,
                    "at": NOW,
                    "kind": "message_queued",
                    "step_key": STEP_ID,
                    "participant_key": participant.id,
                    "detail": f"reminder {REMINDER_SEQUENCE}",
                    "key": None,
                }
            )
            if len(batch) == CHUNK:
                _bulk_insert(conn, t, e, batch, events)
                count += len(batch)
                batch, events = [], []
        if batch:
            _bulk_insert(conn, t, e, batch, events)
            count += len(batch)
    return count


def _bulk_insert(conn: Any, t: Any, e: Any, rows: list[dict[str, Any]], events: list[Any]) -> None:
    from sqlalchemy import insert

    conn.execute(insert(t), rows)
    conn.execute(insert(e), events)


class Timers:
    """Wall time spent inside named functions, by wrapping them where innspill looks them up.

    A function that is not found (renamed or moved) is simply not timed; the wrappers cost
    about a microsecond a call, nothing next to what they measure.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._undo: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name, None)
        if original is None:
            return

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - start
                self.calls[label] = self.calls.get(label, 0) + 1

        setattr(owner, name, timed)
        self._undo.append((owner, name, original))

    def wrap_async(self, owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name, None)
        if original is None:
            return

        async def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - start
                self.calls[label] = self.calls.get(label, 0) + 1

        setattr(owner, name, timed)
        self._undo.append((owner, name, original))

    def restore(self) -> None:
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)
        self._undo.clear()

    def take(self) -> dict[str, float]:
        """The times so far, each label with its number of calls; the timers start again."""
        out = {f"{label} [{self.calls[label]:,}x]": s for label, s in self.seconds.items()}
        self.seconds, self.calls = {}, {}
        return out


def _time_render_parts(timers: Timers) -> None:
    """The parts of rendering a message; each is timed exclusive of the others."""
    import innspill.engine as engine_module
    import innspill.outbound.compose as compose
    import innspill.outbound.shapes as shapes
    from innspill.outbound.skeleton import Skeleton
    from innspill.process.definition import ProcessDefinition

    timers.wrap(ProcessDefinition, "participant", "definition.participant() lookups")
    # Jinja runs once per shape of message (twice, to check it), not once per message.
    timers.wrap(shapes, "render", "jinja render of shapes (subject, text, html)")
    timers.wrap(compose, "render", "jinja render one by one (receipts, previews)")
    timers.wrap(Skeleton, "body", "text and HTML parts filled and encoded (skeleton)")
    timers.wrap(compose, "build_message", "MIME build (headers, parts put together)")
    timers.wrap(compose, "OutboxMessage", "OutboxMessage() construction (SQLModel)")
    timers.wrap(engine_module, "load_state", "load_state")
    timers.wrap(engine_module, "plan", "plan")
    timers.wrap(engine_module, "record_event", "Event() construction (record_event)")


def _time_dispatch_parts(timers: Timers) -> None:
    import innspill.outbound.outbox as outbox
    from innspill.outbound.transport import SmtpTransport

    timers.wrap(outbox, "claim_in", "claims (claim_in, in the writer thread: overlaps)")
    timers.wrap(outbox, "store_in", "store marks + events (store_in, writer thread: overlaps)")
    timers.wrap_async(SmtpTransport, "send_all", "SMTP sending (transport.send_all)")


def _unsend(engine: Any) -> None:
    """Bench only: put the reminders back to pending (and drop their sent events) for another
    dispatch round. Production code never does this: only innspill.outbound.outbox changes
    a status."""
    from sqlalchemy import delete, update

    from innspill.models import Event, OutboxMessage

    t = OutboxMessage.__table__  # type: ignore[attr-defined]
    e = Event.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(
            update(t)
            .where(t.c.kind == "reminder")
            .values(
                status="pending", attempts=0, last_error=None, next_attempt_at=NOW, sent_at=None
            )
        )
        conn.execute(delete(e).where(e.c.kind == "message_sent"))


def _check_all_marked(engine: Any, messages: int) -> None:
    """Every reminder is marked sent, with one message_sent event each."""
    from sqlalchemy import func, select

    from innspill.models import Event, OutboxMessage

    t = OutboxMessage.__table__  # type: ignore[attr-defined]
    e = Event.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        sent = conn.execute(
            select(func.count()).where(t.c.kind == "reminder", t.c.status == "sent")
        ).scalar_one()
        events = conn.execute(select(func.count()).where(e.c.kind == "message_sent")).scalar_one()
    if sent != messages or events != messages:
        raise SystemExit(f"marked {sent} sent with {events} events, expected {messages}")


def run_innspill(
    port: int, messages: int, path: str, workdir: Path, repeat: int = 1
) -> dict[str, Any]:
    """Set up a process with `messages` participants, then time render+persist once and
    send+mark `repeat` times (the best round counts)."""
    from innspill.config.settings import Settings
    from innspill.engine import tick_process
    from innspill.models.db import make_engine, migrate, session_scope
    from innspill.outbound.outbox import dispatch
    from innspill.outbound.transport import SmtpTransport
    from innspill.process.loading import store_definition

    url = f"sqlite:///{workdir / 'innspill.db'}"
    settings = Settings(
        data_dir=workdir / "data",
        database_url=url,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_concurrency=CONNECTIONS,
        smtp_timeout=30,
        _env_file=None,  # type: ignore[call-arg]
    )
    t0 = time.perf_counter()
    migrate(url)
    engine = make_engine(url)
    definition = make_definition(messages)
    with session_scope(engine) as session:
        store_definition(session, definition, source="<bench>", now=INVITED_AT)
    _insert_invitations(engine, definition)
    # One-time costs (the holiday calendar, compiling the templates) are paid here, not in
    # the per-message rates: a long-running worker pays them once.
    from innspill.process.workdays import is_working_day

    is_working_day(OPENS)
    sample_message()
    setup = time.perf_counter() - t0

    timers = Timers()
    _time_render_parts(timers)
    t1 = time.perf_counter()
    if path == "tick":
        report = tick_process(engine, definition, now=NOW)
        queued = len(report.queued)
    else:
        queued = _render_and_store_rows(engine, definition, timers)
    render_persist = time.perf_counter() - t1
    render_parts = timers.take()
    timers.restore()
    if queued != messages:
        raise SystemExit(f"expected {messages} reminders, queued {queued}")

    send_marks: list[float] = []
    dispatch_parts: dict[str, float] = {}
    for round_ in range(repeat):
        if round_:
            _unsend(engine)
        _time_dispatch_parts(timers)
        t2 = time.perf_counter()
        sent = asyncio.run(dispatch(engine, SmtpTransport(settings), now=NOW, max_attempts=8))
        send_marks.append(time.perf_counter() - t2)
        parts = timers.take()
        timers.restore()
        if sent.sent != messages:
            raise SystemExit(f"innspill sent {sent.sent} of {messages}: {sent.errors[:3]}")
        if send_marks[-1] == min(send_marks):
            dispatch_parts = parts
    _check_all_marked(engine, messages)
    engine.dispose()
    send_mark = min(send_marks)
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "messages": messages,
        "path": path,
        "setup_s": setup,
        "render_persist_s": render_persist,
        "send_mark_s": send_mark,
        "send_mark_rounds_s": send_marks,
        "total_s": render_persist + send_mark,
        "peak_rss_mb": rss_kb / 1024,
        "render_parts": render_parts,
        "dispatch_parts": dispatch_parts,
    }


def innspill_in_subprocess(port: int, messages: int, path: str, repeat: int) -> dict[str, Any]:
    """Run the innspill part alone in a fresh interpreter (its peak RSS is then its own)."""
    with tempfile.TemporaryDirectory(prefix="innspill-bench-") as tmp:
        out = Path(tmp) / "result.json"
        command = [
            sys.executable,
            "-m",
            "bench.dispatch",
            "--child",
            "innspill",
            "--port",
            str(port),
            "--messages",
            str(messages),
            "--path",
            path,
            "--repeat",
            str(repeat),
            "--workdir",
            tmp,
            "--out",
            str(out),
        ]
        subprocess.run(command, cwd=ROOT, check=True)
        return json.loads(out.read_text())


# --------------------------------------------------------------------------- baselines


def smtplib_loop(port: int, raw: bytes, sender: str, to: list[str]) -> float:
    """Stdlib smtplib, a new connection per message (what prefect-email does). Seconds."""
    start = time.perf_counter()
    for recipient in to:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.sendmail(sender, [recipient], raw)
    return time.perf_counter() - start


async def _aiosmtplib_loop(port: int, raw: bytes, sender: str, to: list[str]) -> float:
    import aiosmtplib

    async def worker(share: list[str]) -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=30)
        await client.connect()
        try:
            for recipient in share:
                await client.sendmail(sender, [recipient], raw)
        finally:
            await client.quit()

    start = time.perf_counter()
    await asyncio.gather(*(worker(to[i::CONNECTIONS]) for i in range(CONNECTIONS)))
    return time.perf_counter() - start


def aiosmtplib_loop(port: int, raw: bytes, sender: str, to: list[str]) -> float:
    """Raw aiosmtplib: 8 coroutines, each with one reused connection. Seconds."""
    return asyncio.run(_aiosmtplib_loop(port, raw, sender, to))


PREFECT_ENV = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}


def run_prefect(port: int, messages: int, message_file: Path) -> dict[str, Any]:
    """A Prefect flow awaiting prefect-email's email_send_message once per message.

    Runs in its own process (Prefect reads its settings at import). One warm-up flow with a
    single message pays for the temporary server's start; the timed flow is the second one.
    """
    sample = json.loads(message_file.read_text())
    from prefect import flow
    from prefect_email import EmailServerCredentials, email_send_message
    from prefect_email.credentials import SMTPType

    credentials = EmailServerCredentials(
        smtp_server="127.0.0.1", smtp_port=port, smtp_type=SMTPType.INSECURE
    )

    @flow(name="send-reminders")
    async def send_reminders(to: list[str]) -> float:
        start = time.perf_counter()
        for recipient in to:
            await email_send_message(
                email_server_credentials=credentials,
                subject=sample["subject"],
                msg=sample["html"],
                msg_plain=sample["text"],
                email_from=sample["sender"],
                email_to=recipient,
            )
        return time.perf_counter() - start

    t0 = time.perf_counter()
    asyncio.run(send_reminders(recipients(1)))
    warmup = time.perf_counter() - t0
    t1 = time.perf_counter()
    inside = asyncio.run(send_reminders(recipients(messages)))
    elapsed = time.perf_counter() - t1
    return {"messages": messages, "warmup_s": warmup, "elapsed_s": elapsed, "loop_s": inside}


def prefect_in_subprocess(port: int, messages: int, sample: dict[str, str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="innspill-bench-prefect-") as tmp:
        message_file = Path(tmp) / "message.json"
        message_file.write_text(json.dumps(sample))
        out = Path(tmp) / "result.json"
        env = {**os.environ, **PREFECT_ENV, "PREFECT_HOME": str(Path(tmp) / "prefect-home")}
        command = [
            sys.executable,
            "-m",
            "bench.dispatch",
            "--child",
            "prefect",
            "--port",
            str(port),
            "--messages",
            str(messages),
            "--message-file",
            str(message_file),
            "--out",
            str(out),
        ]
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        if result.returncode != 0 or not out.exists():
            tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
            return {"error": f"exit code {result.returncode}\n{tail}"}
        return json.loads(out.read_text())


# --------------------------------------------------------------------------- report


def mark(ok: bool) -> str:
    return "PASS" if ok else "BELOW TARGET"


def _rates(messages: int, rounds: list[float]) -> str:
    return ", ".join(f"{messages / seconds:.0f}" for seconds in rounds)


def print_breakdown(title: str, total: float, parts: dict[str, float], rest: str) -> None:
    print(f"  {title}: {total:.2f} s")
    accounted = 0.0
    for label, seconds in parts.items():
        overlapped = "overlaps" in label
        if not overlapped:
            accounted += seconds
        print(f"    {label:<66} {seconds:7.2f} s {100 * seconds / total:5.1f} %")
    other = total - accounted
    print(f"    {rest:<66} {other:7.2f} s {100 * other / total:5.1f} %")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dispatch", description=__doc__)
    parser.add_argument("--messages", type=int, default=None, help="default 10000")
    parser.add_argument("--quick", action="store_true", help="1,000 messages, Prefect on 50")
    parser.add_argument("--prefect-messages", type=int, default=None, help="default 300")
    parser.add_argument("--no-prefect", action="store_true", help="skip the Prefect baseline")
    parser.add_argument(
        "--path",
        choices=("tick", "rows", "both"),
        default="both",
        help="how reminders are rendered and stored: tick = tick_process plans, renders once "
        "per shape and stores with Core inserts, as production does (the one the targets are "
        "judged on); rows = outbox_row() per reminder and Core bulk inserts; both (default): "
        "one innspill "
        "subprocess for each",
    )
    parser.add_argument("--sink", choices=("auto", "smtp-sink", "aiosmtpd"), default="auto")
    parser.add_argument(
        "--no-kill", action="store_true", help="skip the kill test (duplicates after a kill)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="rounds of each SMTP measurement (innspill send+mark, smtplib, aiosmtplib); "
        "the best round counts, the machine being noisy (default 3)",
    )
    # Internal: the subprocesses.
    parser.add_argument("--child", choices=("innspill", "prefect"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--message-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    messages = args.messages or (1000 if args.quick else 10000)
    prefect_messages = args.prefect_messages or (50 if args.quick else 300)

    if args.child == "innspill":
        result = run_innspill(args.port, messages, args.path, args.workdir, args.repeat)
        args.out.write_text(json.dumps(result))
        return 0
    if args.child == "prefect":
        result = run_prefect(args.port, messages, args.message_file)
        args.out.write_text(json.dumps(result))
        return 0

    if args.sink == "auto" and not smtp_sink_path():
        print("NOTE: " + NO_SMTP_SINK.replace("\n", "\nNOTE: "), flush=True)
    raw, sender, subject, text, html = sample_message()
    to = recipients(messages)
    paths = ["tick", "rows"] if args.path == "both" else [args.path]
    runs: dict[str, dict[str, Any]] = {}
    with sink(args.sink) as smtp:
        print(f"sink: {smtp.description} on 127.0.0.1:{smtp.port}", flush=True)
        print(f"message: {len(raw)} bytes (a rendered reminder); {messages} messages", flush=True)
        for path in paths:
            print(f"running innspill, {path} path (subprocess) ...", flush=True)
            runs[path] = innspill_in_subprocess(smtp.port, messages, path, args.repeat)
        smtplib_rounds: list[float] = []
        aiosmtplib_rounds: list[float] = []
        for round_ in range(1, args.repeat + 1):
            print(f"running smtplib loop and aiosmtplib loop, round {round_} ...", flush=True)
            smtplib_rounds.append(smtplib_loop(smtp.port, raw, sender, to))
            aiosmtplib_rounds.append(aiosmtplib_loop(smtp.port, raw, sender, to))
        smtplib_s, aiosmtplib_s = min(smtplib_rounds), min(aiosmtplib_rounds)
        prefect: dict[str, Any] | None = None
        if not args.no_prefect:
            print(
                f"running Prefect + prefect-email ({prefect_messages} messages; "
                "the temporary server takes 20-40 s to start) ...",
                flush=True,
            )
            sample = {"sender": sender, "subject": subject, "text": text, "html": html}
            prefect = prefect_in_subprocess(smtp.port, prefect_messages, sample)

    rate_smtplib = messages / smtplib_s
    rate_aio = messages / aiosmtplib_s
    rows: list[tuple[str, int, float]] = []
    for path, run in runs.items():
        rows += [
            (f"innspill [{path}] render+persist", messages, run["render_persist_s"]),
            (
                f"innspill [{path}] send+mark (dispatch, {CONNECTIONS} conns)",
                messages,
                run["send_mark_s"],
            ),
            (f"innspill [{path}] end to end", messages, run["total_s"]),
        ]
    rows += [
        ("smtplib, new connection per message", messages, smtplib_s),
        (f"aiosmtplib, {CONNECTIONS} reused connections", messages, aiosmtplib_s),
    ]
    prefect_note = ""
    if prefect is not None and "error" not in prefect:
        rows.append(
            ("Prefect flow + prefect-email, per message", prefect["messages"], prefect["elapsed_s"])
        )
        prefect_note = (
            f"Prefect: warm-up flow (1 message, server start) {prefect['warmup_s']:.1f} s, "
            "excluded; "
            f"timed flow {prefect['elapsed_s']:.2f} s, of which the send loop "
            f"{prefect['loop_s']:.2f} s ({prefect['messages'] / prefect['loop_s']:.0f} msg/s)"
        )
    elif prefect is not None:
        prefect_note = "Prefect baseline NOT MEASURED: " + prefect["error"]

    width = 52
    print()
    print(f"{'what':<{width}} {'messages':>8} {'seconds':>9} {'msg/s':>9}")
    print("-" * (width + 29))
    for name, count, seconds in rows:
        print(f"{name:<{width}} {count:>8} {seconds:>9.2f} {count / seconds:>9.0f}")
    print("-" * (width + 29))
    if prefect_note:
        print(prefect_note)
    print("SMTP rounds (best counts), msg/s:")
    for path, run in runs.items():
        print(f"  innspill [{path}] send+mark  " + _rates(messages, run["send_mark_rounds_s"]))
    print("  smtplib loop               " + _rates(messages, smtplib_rounds))
    print("  aiosmtplib loop            " + _rates(messages, aiosmtplib_rounds))

    main_path = "tick" if "tick" in runs else paths[0]
    ours = runs[main_path]
    rate_send = messages / ours["send_mark_s"]
    rate_total = messages / ours["total_s"]
    print()
    print(f"targets (innspill = the {main_path} path):")
    checks = [
        ("send+mark / aiosmtplib", rate_send / rate_aio, TARGET_VS_AIOSMTPLIB),
        ("send+mark / smtplib loop", rate_send / rate_smtplib, TARGET_VS_SMTPLIB),
        ("end to end / aiosmtplib", rate_total / rate_aio, TARGET_END_TO_END_VS_AIOSMTPLIB),
        ("end to end / smtplib loop", rate_total / rate_smtplib, TARGET_VS_SMTPLIB),
    ]
    for name, ratio, target in checks:
        print(f"  innspill {name:<28} {ratio:6.2f}  (target >= {target})  {mark(ratio >= target)}")
    for path, run in runs.items():
        rss = run["peak_rss_mb"]
        print(
            f"  innspill [{path}] peak RSS (subprocess) {rss:8.0f} MB "
            f"(target < {TARGET_RSS_MB} MB)  {mark(rss < TARGET_RSS_MB)}"
        )
    if rate_aio / rate_smtplib < TARGET_VS_SMTPLIB:
        print(
            "  note: against this sink raw aiosmtplib itself is only "
            f"{rate_aio / rate_smtplib:.2f}x the smtplib loop, so innspill / smtplib >= "
            f"{TARGET_VS_SMTPLIB} would need innspill to beat raw aiosmtplib."
        )

    print()
    print("where the time goes (wall time inside each function; setup untimed:")
    print(f"  migrate, {messages} participants stored, invitations: {ours['setup_s']:.1f} s)")
    for path, run in runs.items():
        print_breakdown(
            f"[{path}] render+persist",
            run["render_persist_s"],
            run["render_parts"],
            "rest: plan, tokens, shapes' keys, Core inserts, numbers, commit"
            if path == "tick"
            else "rest: Action objects, row dicts, commit",
        )
    print_breakdown(
        f"[{main_path}] send+mark (best round)",
        ours["send_mark_s"],
        ours["dispatch_parts"],
        "rest (between pages: last flush, start-up)",
    )
    binary = smtp_sink_path()
    if args.no_kill:
        return 0
    print()
    if binary is None:
        print("kill test NOT RUN: it counts copies at Postfix's smtp-sink, which is not installed")
        return 0
    from bench.kill import describe, kill_test

    print(describe(kill_test(min(messages, 3000), binary)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
