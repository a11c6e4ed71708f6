"""Import 1,000 replies from a real IMAP server (Dovecot): answers per second, end to end.

Run: `python -m bench.imap_import [--replies N]`. A throwaway Dovecot (tests/dovecot.py) holds
N replies to our invitations; innspill fetches them, parses them, matches each by its token
and stores it as an answer with its receipt due. The baseline, in the same run, is the IMAP
fetch alone (the same messages fetched and marked, nothing parsed or stored). Exits 0.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
import uuid
from datetime import time as clock_time
from datetime import timedelta
from pathlib import Path

TARGET = 50.0  # answers per second, end to end


def prepare(folder: Path, replies: int):  # type: ignore[no-untyped-def]
    """A database with N participants invited (tokens issued) and their replies as bytes."""
    from sqlmodel import Session

    from bench.dispatch import NOW, OPENS, make_definition
    from innspill.demo.scenario import reply_mail
    from innspill.engine import tick
    from innspill.models.db import make_engine, migrate, session_scope
    from innspill.outbound.compose import Outgoing
    from innspill.process.loading import store_definition
    from innspill.process.workdays import local_datetime

    url = f"sqlite:///{folder / 'bench.db'}"
    migrate(url)
    engine = make_engine(url)
    definition = make_definition(replies)
    with session_scope(engine) as session:
        store_definition(session, definition, source="bench", now=NOW - timedelta(days=60))
    opens = local_datetime(OPENS, clock_time(9, 30))  # the invitations go out when the step opens
    tick(engine, now=opens, outgoing=Outgoing(secret="bench-key-" + "x" * 40))
    raws = []
    with Session(engine) as session:
        for participant in definition.participants:
            raws.append(
                reply_mail(
                    session,
                    definition,
                    definition.steps[0].id,
                    participant.id,
                    NOW,
                    texts={
                        "rolle": "Et innspill om rollen.",
                        "organisering": "Et om organiseringen.",
                    },
                )
            )
    return engine, raws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=1000)
    args = parser.parse_args()

    from sqlmodel import Session, func, select

    from bench.dispatch import NOW
    from innspill.config.settings import Settings
    from innspill.inbound.intake import import_mail
    from innspill.inbound.mailbox import fetch_new, source_name
    from innspill.models import Answer
    from innspill.models.db import session_scope
    from tests.dovecot import Dovecot

    with tempfile.TemporaryDirectory() as tmp, Dovecot() as server:
        folder = Path(tmp)
        started = time.perf_counter()
        engine, raws = prepare(folder, args.replies)
        print(
            f"setup: {args.replies} participants invited, replies built "
            f"in {time.perf_counter() - started:.1f} s (untimed)"
        )

        def settings_for(user: str) -> Settings:
            box = copy.copy(server)
            box.user = user
            box.append_all(raws)
            return Settings(data_dir=folder, **box.imap_settings(), _env_file=None)

        # Baseline: the same messages fetched and marked, nothing else.
        baseline_settings = settings_for(f"base-{uuid.uuid4().hex[:8]}")
        t0 = time.perf_counter()
        fetched = fetch_new(baseline_settings, lambda message: None).handled
        baseline = time.perf_counter() - t0

        settings = settings_for(f"run-{uuid.uuid4().hex[:8]}")
        source = source_name(settings)

        def handle(message) -> None:  # type: ignore[no-untyped-def]
            with session_scope(engine) as session:
                import_mail(
                    session, message.raw, source=source, uid=message.uid, received_at=NOW, now=NOW
                )

        t0 = time.perf_counter()
        report = fetch_new(settings, handle)
        elapsed = time.perf_counter() - t0
        with Session(engine) as session:
            answers = session.exec(select(func.count()).select_from(Answer)).one()

    rate, base_rate = answers / elapsed, fetched / baseline
    print(f"\n{'what':<44}{'messages':>10}{'seconds':>10}{'per s':>10}")
    print(
        f"{'IMAP fetch and mark only (baseline)':<44}{fetched:>10}{baseline:>10.2f}"
        f"{base_rate:>10.0f}"
    )
    print(f"{'fetch, parse, match, store (answers)':<44}{answers:>10}{elapsed:>10.2f}{rate:>10.0f}")
    print(f"\nanswers stored: {answers} of {args.replies}; failed: {len(report.failed)}")
    print(f"end to end / fetch only: {rate / base_rate:.2f}")
    verdict = "PASS" if rate >= TARGET else "BELOW TARGET"
    print(f"answers per second: {rate:.0f} (target >= {TARGET:.0f})  {verdict}")


if __name__ == "__main__":
    main()
