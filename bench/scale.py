"""Scale benchmark: the opening tick, a no-op tick, `status` and CLI start-up, beside targets.

Run: `uv run --frozen python -m bench.scale [--quick] [--backend sqlite|postgresql|both]`.
Each backend gets a fresh database (a SQLite file in a temporary folder; on PostgreSQL a schema
of its own, dropped after). Every figure is printed beside its target and, where one makes
sense, beside a baseline measured in the same run: the machines are shared and noisy, so the
ratio is what to compare between runs. Exits 0 whatever the numbers are.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
OSLO = ZoneInfo("Europe/Oslo")
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

OPENS = date(2025, 3, 3)  # a Monday, far from Norwegian holidays
DEADLINE = date(2025, 3, 21)
NOW = datetime(2025, 3, 3, 10, 0, tzinfo=OSLO).astimezone(UTC)  # the invitations are due

TARGET_RATE = 1000.0  # messages/s, opening tick
TARGET_NOOP = 0.5  # s, no-op tick in-process at 200 x 50
TARGET_HELP = 0.5  # s, `innspill --help` (issue 19)


#: Each process keeps a journal (numbers in every letter, innspill.journal) unless
#: --no-journal: the realistic path, and the one whose cost is to watch.
ARCHIVE = [
    "[archive]",
    'creator = "Eksempeletaten"',
    'organisation_number = "974760673"',
    "first_document_number = 2",
    "",
]
JOURNAL = True


def definition_toml(process_id: str, participants: int) -> str:
    """A process file with one request step and `participants` participants."""
    lines = [
        "[process]",
        f'id = "{process_id}"',
        'title = "Innspill til retningslinjer for ytelsestesting"',
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
        'signature_title = "Direktør"',
        'address_lines = ["Postboks 0000", "0000 EKSEMPEL"]',
        "",
        *(ARCHIVE if JOURNAL else []),
    ]
    for n in range(1, participants + 1):
        lines += [
            "[[participants]]",
            f'id = "deltaker-{n:06d}"',
            f'name = "Sekretariatet for byvekstavtalen i eksempelkommune {n}"',
            'role = "secretariat"',
            f'email = "sekretariat-{n:06d}@{process_id}.example"',
            "",
        ]
    for theme_id, title in (("rolle", "Funksjon, rolle og ansvar"), ("okonomi", "Økonomi")):
        lines += [
            "[[themes]]",
            f'id = "{theme_id}"',
            f'title = "{title}"',
            'questions = ["Hva fungerer godt i dag?", "Hva bør endres?"]',
            "",
        ]
    lines += [
        "[[steps]]",
        'id = "innspill"',
        'kind = "request"',
        'title = "Innspill til retningslinjene"',
        f"opens = {OPENS.isoformat()}",
        f"deadline = {DEADLINE.isoformat()}",
        "reminders = { before = [2], overdue_max = 0, hour = 9 }",
        "",
    ]
    return "\n".join(lines)


@contextmanager
def database(backend: str) -> Iterator[str]:
    """A fresh, migrated database URL for `backend`; removed afterwards."""
    from sqlalchemy import create_engine, text

    from innspill.models.db import migrate

    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bench-scale-") as folder:
            url = f"sqlite:///{folder}/innspill.db"
            migrate(url)
            yield url
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = f"{POSTGRES}?options=-csearch_path%3D{schema}"
        migrate(url)
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def load_processes(engine: Any, processes: int, participants: int) -> None:
    from innspill.models.db import session_scope
    from innspill.process.definition import parse_definition
    from innspill.process.loading import store_definition

    for n in range(processes):
        definition = parse_definition(definition_toml(f"p{n:04d}", participants))
        with session_scope(engine) as session:
            store_definition(session, definition, source="<bench>", now=NOW)


def outgoing() -> Any:
    from innspill.outbound.compose import Outgoing

    # A secret and a public URL: every invitation carries a reply token and a form token,
    # as in production.
    return Outgoing(secret="bench-secret", public_url="https://innspill.etaten.example")


def clear_definition_cache() -> None:
    from innspill.process import loading

    loading.clear_cache()


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Wall seconds and the result."""
    wall, _cpu, result = timed_cpu(fn)
    return wall, result


def timed_cpu(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Wall seconds, this process's CPU seconds, and the result.

    The CPU time is what to read when the shared machine is busy: waiting for a core
    inflates the wall time, not the CPU time (the database server's own work is not in it).
    """
    started, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - started, time.process_time() - cpu, result


def raw_insert_baseline(engine: Any) -> tuple[float, int]:
    """Seconds to executemany the same outbox, event and token rows again (rolled back)."""
    from sqlalchemy import delete, insert, select

    from innspill.models import AccessToken, Event, JournalEntry, OutboxMessage

    tables = [t.__table__ for t in (OutboxMessage, Event, AccessToken, JournalEntry)]
    with engine.connect() as conn:
        rows = {}
        for table in tables:
            columns = [c for c in table.c if c.name != "id"]
            rows[table.name] = [dict(r._mapping) for r in conn.execute(select(*columns))]
        conn.rollback()  # end the reading transaction; the next statement begins one
        for table in tables:
            conn.execute(delete(table))
        started = time.perf_counter()
        for table in tables:
            data = rows[table.name]
            for start in range(0, len(data), 500):
                conn.execute(insert(table), data[start : start + 500])
        seconds = time.perf_counter() - started
        conn.rollback()
    return seconds, len(rows[OutboxMessage.__tablename__])


def opening_tick(url: str, processes: int, participants: int) -> dict[str, float]:
    """Queue every invitation of a fresh round: messages/s, against a raw insert of the rows."""
    from innspill.engine import tick
    from innspill.models.db import make_engine

    engine = make_engine(url)
    try:
        load_processes(engine, processes, participants)
        clear_definition_cache()
        seconds, cpu, report = timed_cpu(lambda: tick(engine, now=NOW, outgoing=outgoing()))
        count = len(report.queued)
        assert count == processes * participants, f"queued {count}"
        raw_seconds, raw_count = raw_insert_baseline(engine)
        assert raw_count == count
        noop = [timed_cpu(lambda: tick(engine, now=NOW, outgoing=outgoing())) for _ in range(3)]
        status_seconds = status_time(engine) if processes == 1 else 0.0
    finally:
        engine.dispose()
    return {
        "messages": count,
        "rate": count / seconds,
        "cpu_rate": count / cpu,
        "raw_rate": raw_count / raw_seconds,
        "noop": min(n[0] for n in noop),
        "noop_cpu": min(n[1] for n in noop),
        "status": status_seconds,
    }


def status_time(engine: Any) -> float:
    from innspill.models.db import session_scope
    from innspill.process.loading import all_definitions
    from innspill.status import process_status

    def run() -> None:
        with session_scope(engine) as session:
            for definition in all_definitions(session):
                process_status(session, definition, now=NOW)

    return min(timed(run)[0] for _ in range(2))


def cli_help(runs: int) -> dict[str, float]:
    """`innspill --help` with bytecode and with none (an empty cache): median wall and CPU s."""
    command = [str(Path(sys.executable).parent / "innspill"), "--help"]

    def once(env: dict[str, str]) -> tuple[float, float]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as empty:
        # PYTHONPYCACHEPREFIX points at an empty folder, and with PYTHONDONTWRITEBYTECODE
        # nothing is written there: every module compiles, as in a venv built without bytecode.
        cold = {**os.environ, "PYTHONPYCACHEPREFIX": empty, "PYTHONDONTWRITEBYTECODE": "1"}
        warm = dict(os.environ)
        once(warm)
        # Alternated, so that a burst of load on the shared machine hits both alike.
        pairs = [(once(warm), once(cold)) for _ in range(runs)]
    return {
        "wall": statistics.median(w[0] for w, _ in pairs),
        "cpu": statistics.median(w[1] for w, _ in pairs),
        "cold_wall": statistics.median(c[0] for _, c in pairs),
        "cold_cpu": statistics.median(c[1] for _, c in pairs),
    }


def mark(ok: bool) -> str:
    return "PASS" if ok else "MISSED"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--no-journal", action="store_true", help="processes without [archive]: no numbers"
    )
    args = parser.parse_args(argv)
    global JOURNAL
    JOURNAL = not args.no_journal
    # Stopped with SIGTERM, still drop the PostgreSQL schema (the `finally` in database()).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    big = (1, 1000) if args.quick else (1, 10_000)
    wide = (20, 50) if args.quick else (200, 50)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]

    journal = "with journal numbers" if JOURNAL else "without a journal (--no-journal)"
    print(f"bench.scale{' --quick' if args.quick else ''}: {os.cpu_count()} cores, {journal}")
    for backend in backends:
        print(f"\n== {backend}")
        for processes, participants in (big, wide):
            with database(backend) as url:
                r = opening_tick(url, processes, participants)
            size = f"{processes} x {participants:,}"
            print(
                f"opening tick {size:<10} {r['rate']:8.0f} msg/s  target >= {TARGET_RATE:.0f}"
                f"  {mark(r['rate'] >= TARGET_RATE)};  per CPU second {r['cpu_rate']:.0f} msg/s;"
                f"  baseline: the same rows inserted raw {r['raw_rate']:.0f} msg/s,"
                f" ratio {r['rate'] / r['raw_rate']:.2f}"
            )
            if processes > 1:
                print(
                    f"no-op tick   {size:<10} {r['noop']:8.3f} s      target < {TARGET_NOOP}"
                    f"      {mark(r['noop'] < TARGET_NOOP)}  (in-process, best of 3;"
                    f" CPU {r['noop_cpu']:.3f} s)"
                )
            else:
                print(f"status       {size:<10} {r['status']:8.3f} s      (in-process, best of 2)")
    help_ = cli_help(3 if args.quick else 5)
    print(
        f"\ninnspill --help          {help_['wall']:8.3f} s      target < {TARGET_HELP}"
        f"        {mark(help_['wall'] < TARGET_HELP)};  CPU {help_['cpu']:.3f} s;"
        f"  without bytecode {help_['cold_wall']:.3f} s (CPU {help_['cold_cpu']:.3f} s),"
        f" ratio {help_['wall'] / help_['cold_wall']:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
