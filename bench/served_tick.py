"""Served tick benchmark: the opening tick run by `innspill serve` against `innspill tick`.

Run: `python -m bench.served_tick [--processes 50] [--participants 50]`. Both tick the same
database (one SQLite file, copied) at the moment every process opens, so each queues and sends
every invitation, to one SMTP sink in its own process. The CLI is timed as a command, start to
exit. The served tick is a run of the `tick/innspill-tick` deployment on a real Prefect server
(`prefect server start`), timed from Pending (the runner has taken it and starts its process)
to Completed, as the server records it; the runner's poll before that is not counted. Target:
served at most 1.5 x the CLI. Exits 0 whatever the numbers are: the machine is noisy.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bench.dispatch import sink
from tests.prefect_server import (
    PrefectServer,
    clean_env,
    innspill,
    start_serve,
    state_of,
    stop,
    tail,
)
from tests.prefect_server import process_toml as one_process

OPENS, DEADLINE, ENDS = date(2025, 3, 3), date(2025, 3, 21), date(2025, 3, 31)
AT = "2025-03-03T09:00"  # the opening day, inside the send window
TARGET = 1.5


def build(folder: Path, processes: int, participants: int) -> Path:
    """A migrated SQLite database with the processes loaded (the morning they open)."""
    from innspill.models.db import make_engine, migrate, session_scope
    from innspill.process.loading import load_file

    url = f"sqlite:///{folder / 'innspill.db'}"
    migrate(url)
    engine = make_engine(url)
    loaded = datetime(2025, 3, 3, 6, 0, tzinfo=UTC)
    for n in range(1, processes + 1):
        path = folder / f"runde-{n:03d}.toml"
        text = one_process(
            f"runde-{n:03d}", participants, opens=OPENS, deadline=DEADLINE, ends=ENDS
        )
        path.write_text(text, encoding="utf-8")
        with session_scope(engine) as session:
            load_file(session, path, now=loaded)
    engine.dispose()
    return folder / "innspill.db"


def sent_count(database: Path) -> int:
    import sqlite3

    with sqlite3.connect(database) as conn:
        row = conn.execute("select count(*) from outboxmessage where status = 'sent'").fetchone()
    return int(row[0])


def env_for(database: Path, data: Path, port: int) -> dict[str, str]:
    return clean_env(
        INNSPILL_DATABASE_URL=f"sqlite:///{database}",
        INNSPILL_DATA_DIR=str(data),
        INNSPILL_SMTP_HOST="127.0.0.1",
        INNSPILL_SMTP_PORT=str(port),
        INNSPILL_TICK_CRON="0 3 1 1 *",  # only the run the bench asks for
        # Like for like: `innspill tick` makes no archival copies, so the served tick makes
        # none either (a batch of them costs about 0.2-0.5 s a letter; see docs/archive.md).
        INNSPILL_ARCHIVE_BATCH="0",
    )


def cli_tick(env: dict[str, str]) -> float:
    started = time.monotonic()
    innspill("tick", "--at", AT, env=env)
    return time.monotonic() - started


def served_tick(server: PrefectServer, log: Path) -> dict[str, float]:
    """One run of the served deployment, asked for by hand with `at`; where its time went."""
    deployment = server.wait_for("the deployment", server.deployment, timeout=120, every=1)
    asked = time.monotonic()
    run = server.post(
        f"/deployments/{deployment['id']}/create_flow_run", {"parameters": {"at": AT}}
    )
    done = server.wait_for(
        "the served tick",
        lambda: (
            (r := server.get(f"/flow_runs/{run['id']}"))
            and state_of(r) in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
            and r
        ),
        timeout=1800,
        every=0.5,
    )
    whole = time.monotonic() - asked
    if state_of(done) != "COMPLETED":
        raise SystemExit(f"the served tick ended {done['state']}\n{tail(log)}")
    states = server.get(f"/flow_run_states/?flow_run_id={run['id']}")
    at = {s["type"]: _instant(s["timestamp"]) for s in states}
    tasks: list[dict[str, Any]] = []
    while page := server.post(  # the API gives at most 200 at a time
        "/task_runs/filter",
        {"flow_runs": {"id": {"any_": [run["id"]]}}, "limit": 200, "offset": len(tasks)},
    ):
        tasks += page
    by_task: dict[str, float] = {}
    for task in tasks:
        name = task["name"].split(" ")[0].rsplit("-", 1)[0]
        by_task[name] = by_task.get(name, 0.0) + (task["total_run_time"] or 0.0)
    return {
        "served": (at["COMPLETED"] - at["PENDING"]).total_seconds(),
        "flow": (at["COMPLETED"] - at["RUNNING"]).total_seconds(),
        "asked": whole,
        **{f"task {name}": seconds for name, seconds in sorted(by_task.items())},
    }


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=50)
    parser.add_argument("--participants", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2, help="CLI and served, alternating")
    args = parser.parse_args()
    messages = args.processes * args.participants
    work = Path(tempfile.mkdtemp(prefix="innspill-served-tick-"))
    print(f"{args.processes} processes x {args.participants} participants = {messages} "
          f"invitations; work dir {work}", flush=True)  # fmt: skip
    (work / "original").mkdir()
    (work / "prefect-client").mkdir()
    original = build(work / "original", args.processes, args.participants)
    server = PrefectServer(work / "prefect-server").start()
    rounds: list[dict[str, float]] = []
    try:
        with sink() as smtp:
            print(f"SMTP sink: {smtp.description}", flush=True)
            for number in range(args.rounds):
                # Fresh copies each round (and a serve on its copy); the order alternates so
                # neither always goes first.
                folder = work / f"round-{number + 1}"
                folder.mkdir()
                cli_db, served_db = folder / "cli.db", folder / "served.db"
                shutil.copyfile(original, cli_db)
                shutil.copyfile(original, served_db)
                log = folder / "serve.log"
                serving = start_serve(
                    {**env_for(served_db, folder / "served-data", smtp.port),
                     "PREFECT_API_URL": server.api_url,
                     "PREFECT_HOME": str(work / "prefect-client")}, log,
                )  # fmt: skip
                result: dict[str, float] = {}
                try:
                    for which in ("cli", "served") if number % 2 == 0 else ("served", "cli"):
                        if which == "cli":
                            env = env_for(cli_db, folder / "cli-data", smtp.port)
                            result["cli"] = cli_tick(env)
                        else:
                            result.update(served_tick(server, log))
                finally:
                    stop(serving)
                    server.delete_deployment()
                for name, database in (("cli", cli_db), ("served", served_db)):
                    if sent_count(database) != messages:
                        raise SystemExit(f"{name}: {sent_count(database)} of {messages} sent")
                rounds.append(result)
                print(f"round {number + 1}: CLI {result['cli']:.1f} s, served "
                      f"{result['served']:.1f} s (ratio {result['served'] / result['cli']:.2f})",
                      flush=True)  # fmt: skip
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    best = min(rounds, key=lambda r: r["served"])
    cli = min(r["cli"] for r in rounds)
    print(f"CLI tick (innspill tick, start to exit), best:   {cli:.1f} s")
    print(f"served tick (Pending to Completed), best:       {best['served']:.1f} s")
    print(f"  of which the flow (Running to Completed):     {best['flow']:.1f} s")
    for name, seconds in best.items():
        if name.startswith("task "):
            print(f"    {name:<44} {seconds:.1f} s")
    print(f"  asked to Completed (with the runner's poll):  {best['asked']:.1f} s")
    ratio = best["served"] / cli
    mark = "PASS" if ratio <= TARGET else "ABOVE TARGET"
    print(f"served / CLI = {ratio:.2f} (target <= {TARGET}): {mark}")


if __name__ == "__main__":
    sys.exit(main())
