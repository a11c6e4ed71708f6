"""Dashboard benchmark: the overview and a process page with 100 processes x 100 participants.

Run: `python -m bench.dashboard [--processes N] [--participants M] [--requests R]`. Fills a
SQLite database (about 50,000 outbox rows, inserted with SQLAlchemy Core), starts the dashboard
with `innspill dashboard` in a subprocess on loopback, signs in, and times R sequential requests
per page from this process with httpx. The baseline, measured in the same run, is /healthz (the
same server, middleware and session check, one trivial query). Exits 0 whatever the numbers
are: read the PASS / BELOW TARGET marks.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 150.0
USER, PASSWORD = "bench", "benchmark-passord-123"
THEMES = ("rolle", "kommunikasjon", "okonomi", "organisering")


def definition(index: int, participants: int, today: date):  # type: ignore[no-untyped-def]
    """A process like the seed's: a request, a compilation, a meeting and a circulation."""
    from innspill.process.definition import ProcessDefinition

    groups = max(1, participants // 10)
    secretariats = participants - groups - 1
    shift = index % 20
    opens = today - timedelta(days=40 - shift)
    deadline = today + timedelta(days=3 + shift)
    people = [
        {
            "id": f"sekretariat-{n:03d}",
            "name": f"Sekretariat nummer {n}",
            "role": "secretariat",
            "email": f"sekretariat-{n}@p{index}.example",
        }
        for n in range(secretariats)
    ]
    people += [
        {
            "id": f"styringsgruppe-{n:03d}",
            "name": f"Styringsgruppe nummer {n}",
            "role": "steering_group",
            "email": f"styringsgruppe-{n}@p{index}.example",
        }
        for n in range(groups)
    ]
    people.append(
        {
            "id": "utreder",
            "name": "Utredningsseksjonen",
            "role": "drafter",
            "email": f"u@p{index}.example",
        }
    )
    return ProcessDefinition.model_validate(
        {
            "process": {
                "id": f"prosess-{index:03d}",
                "title": f"Innspill til retningslinjer, runde {index}",
                "reference": f"26/{10000 + index}",
                "ends": (today + timedelta(days=200)).isoformat(),
            },
            "sender": {
                "organisation": "Statens vegvesen",
                "unit": "Vegdirektoratet",
                "email": "innspill@vegvesen.example",
                "case_officer": "Kari Nordmann",
                "signature_name": "Ola Nordmann",
                "signature_title": "Direktør",
            },
            "participants": people,
            "themes": [{"id": t, "title": t.capitalize()} for t in THEMES],
            "steps": [
                {
                    "id": "innspill",
                    "kind": "request",
                    "title": "Innspill til retningslinjer",
                    "opens": opens.isoformat(),
                    "deadline": deadline.isoformat(),
                },
                {
                    "id": "sammenstilling",
                    "kind": "compilation",
                    "title": "Sammenstilling",
                    "source": "innspill",
                },
                {
                    "id": "mote",
                    "kind": "meeting",
                    "title": "Halvdagsmøte",
                    "audience": ["secretariat", "drafter"],
                    "date": (deadline + timedelta(days=14)).isoformat(),
                    "start": "09:00:00",
                    "end": "12:00:00",
                    "place": "Videomøte",
                },
                {
                    "id": "oversendelse",
                    "kind": "circulation",
                    "title": "Oversendelse til behandling",
                    "deadline": (deadline + timedelta(days=40)).isoformat(),
                },
            ],
        }
    )


def fill(url: str, processes: int, participants: int) -> dict[str, int]:
    """Store the processes and bulk-insert their messages and answers."""
    from sqlalchemy import insert

    from innspill.dashboard.auth import create_user
    from innspill.models import Answer, OutboxMessage
    from innspill.models.db import make_engine, migrate, session_scope
    from innspill.planning.after_deadline import meeting_fingerprint
    from innspill.process.loading import store_definition

    migrate(url)
    engine = make_engine(url)
    rng = random.Random(5)
    today = datetime.now(UTC).date()
    loaded_at = datetime.combine(today - timedelta(days=60), clock(8), tzinfo=UTC)
    raw = ("Innspill til retningslinjer. " * 60).encode()  # about 1.7 KB, like a short mail
    text = " ".join(["Vi mener sekretariatet bør ha en tydelig rolle."] * 10)
    outbox: list[dict[str, object]] = []
    answers: list[dict[str, object]] = []
    with session_scope(engine) as session:
        for index in range(processes):
            d = definition(index, participants, today)
            store_definition(session, d, source="bench", now=loaded_at, by="bench")
            opened = datetime.combine(d.steps[0].opens, clock(7), tzinfo=UTC)  # type: ignore[union-attr]
            # A meeting invitation's sequence names its revision and what it announced, as
            # the planner writes it (the forecast on /next runs the planner over these rows).
            invited = f"1:{meeting_fingerprint(d.step('mote'))}"  # type: ignore[arg-type]

            def message(
                who: str, step: str, kind: str, seq: int | str, at: datetime, pid: str = d.id
            ) -> None:
                key = f"{pid}/{step}/{who}/{kind}/{seq}"
                outbox.append(
                    {
                        "key": key,
                        "process_id": pid,
                        "step_key": step,
                        "participant_key": who,
                        "kind": kind,
                        "sequence": str(seq),
                        "message_id": f"<{key}@bench.example>",
                        "sender": "innspill@vegvesen.example",
                        "recipient": f"{who}@{pid}.example",
                        "subject": f"{kind}: Innspill til retningslinjer ({pid})",
                        "deadline": None,
                        "raw": raw,
                        "status": "failed" if rng.random() < 0.002 else "sent",
                        "attempts": 1,
                        "last_error": None,
                        "created_at": at,
                        "next_attempt_at": at,
                        "sent_at": at,
                    }
                )

            for p in d.participants:
                if p.role == "secretariat":
                    message(p.id, "innspill", "invitation", 1, opened)
                    for n in range(rng.randint(1, 3)):
                        message(p.id, "innspill", "reminder", n, opened + timedelta(days=20 + n))
                    if rng.random() < 0.3:
                        message(p.id, "innspill", "overdue", 1, opened + timedelta(days=30))
                    message(p.id, "mote", "meeting_invitation", invited, opened + timedelta(25))
                    message(p.id, "mote", "meeting_reminder", 1, opened + timedelta(days=36))
                    if rng.random() < 0.7:
                        answers.append(
                            {
                                "process_id": d.id,
                                "step_key": "innspill",
                                "participant_key": p.id,
                                "version": 1,
                                "received_at": opened + timedelta(days=rng.randint(1, 35)),
                                "channel": "email",
                                "registered_by": "",
                                "text_json": json.dumps({t: text for t in THEMES}),
                            }
                        )
                elif p.role == "steering_group":
                    message(p.id, "oversendelse", "circulation", 1, opened + timedelta(days=35))
                    message(
                        p.id, "oversendelse", "treatment_reminder", 1, opened + timedelta(days=38)
                    )
                else:
                    message(p.id, "sammenstilling", "compilation", 1, opened + timedelta(days=33))
                    message(p.id, "mote", "meeting_invitation", invited, opened + timedelta(25))
        create_user(session, USER, PASSWORD, now=datetime.now(UTC))
    with engine.begin() as connection:
        for start in range(0, len(outbox), 5000):
            connection.execute(insert(OutboxMessage), outbox[start : start + 5000])
        for start in range(0, len(answers), 5000):
            connection.execute(insert(Answer), answers[start : start + 5000])
    engine.dispose()
    return {"outbox": len(outbox), "answers": len(answers)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(client, url: str, requests: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    for _ in range(5):  # warm up: templates compiled, definitions parsed
        assert client.get(url).status_code == 200, url
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return {
        "p50": statistics.median(times),
        "p95": percentile(times, 0.95),
        "max": max(times),
        "bytes": len(response.content),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=100)
    parser.add_argument("--participants", type=int, default=100)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--keep", type=Path, help="Keep the database in this folder.")
    args = parser.parse_args()

    import httpx

    folder = args.keep or Path(tempfile.mkdtemp(prefix="innspill-bench-dashboard-"))
    folder.mkdir(parents=True, exist_ok=True)
    database = folder / "innspill.db"
    database.unlink(missing_ok=True)
    url = f"sqlite:///{database}"
    started = time.perf_counter()
    counts = fill(url, args.processes, args.participants)
    print(
        f"Filled {args.processes} processes x {args.participants} participants: "
        f"{counts['outbox']} outbox rows, {counts['answers']} answers "
        f"in {time.perf_counter() - started:.1f} s ({database.stat().st_size / 1e6:.0f} MB)."
    )

    port = free_port()
    env = os.environ | {
        "INNSPILL_DATABASE_URL": url,
        "INNSPILL_DATA_DIR": str(folder),
        "INNSPILL_DASHBOARD_HOST": "127.0.0.1",
        "INNSPILL_DASHBOARD_PORT": str(port),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "innspill.cli", "dashboard"],
        cwd=folder,  # no stray .env
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the dashboard did not start: {server.stderr.read()!r}")  # type: ignore[union-attr]
                time.sleep(0.1)
            form = client.get("/login").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', form)
            assert token, "no CSRF token on the login page"
            signed = client.post(
                "/login",
                data={"username": USER, "password": PASSWORD, "csrf_token": token[1], "next": "/"},
            )
            assert signed.status_code == 303, signed.status_code
            pages = {
                "baseline /healthz": "/healthz",
                "overview /": "/",
                "process page": "/processes/prosess-050",
                "participant page": "/processes/prosess-050/participants/sekretariat-007",
                "next (forecast)": "/processes/prosess-050/next",
                "event log (page 1)": "/processes/prosess-050/events",
                "messages (page 1)": "/messages",
                "messages (page 500)": "/messages?page=500",
            }
            results = {name: measure(client, path, args.requests) for name, path in pages.items()}
    finally:
        server.terminate()
        server.wait(10)

    baseline = results["baseline /healthz"]["p95"]
    print(f"\n{args.requests} sequential requests per page over loopback (ms):")
    print(f"  {'page':<22} {'p50':>7} {'p95':>7} {'max':>7} {'p95/base':>9} {'KB':>6}  target")
    for name, r in results.items():
        judged = name in ("overview /", "process page")
        mark = ("PASS" if r["p95"] < TARGET_MS else "BELOW TARGET") if judged else ""
        print(
            f"  {name:<22} {r['p50']:7.1f} {r['p95']:7.1f} {r['max']:7.1f} "
            f"{r['p95'] / baseline:8.1f}x {r['bytes'] / 1024:6.0f}  {mark}"
        )
    print(f"Target: overview and process page p95 < {TARGET_MS:.0f} ms.")
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
