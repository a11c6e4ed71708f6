"""Journal numbers stay unique and without gaps when ticks, senders and answers run at once,
on PostgreSQL (where they really run side by side), against Postfix's smtp-sink.

Three `innspill tick` (each queues and sends), three `innspill send` and three `innspill answer
add` start together on one database. Every entry must have its own løpenummer and document
number, both running without a gap from the first, and every letter that arrived must carry
the number of its own entry. A tick whose transaction fails after it took numbers must give
them back (the next tick takes the same ones).
"""

from __future__ import annotations

import email
import re
from email.policy import default
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from innspill.engine import tick
from innspill.models import JournalEntry, OutboxMessage
from innspill.models.db import make_engine, session_scope, table_of
from innspill.process.definition import parse_definition
from innspill.process.loading import store_definition
from tests.conftest import POSTGRES_URL, new_database, oslo
from tests.postfix_sink import PostfixSink, need_smtp_sink
from tests.test_concurrency import cli_env, run_together
from tests.test_crash import big_process

# PostgreSQL whatever the suite's backend (SQLite has one writer: nothing runs side by side),
# so it runs in one pass of scripts/check.
pytestmark = pytest.mark.single_pass

PARTICIPANTS = 1200
FIRST = 6  # the first document number the process file gives
NOW = oslo(2020, 3, 30, 9, 30)
ARCHIVE = """
[archive]
creator = "Statens vegvesen"
organisation_number = 971032081
first_document_number = 6
"""
WHAT = ("--text", "rolle=Vårt svar.", "--at", "2020-03-30T09:30")  # an answer added by hand
REFERENCE = re.compile(r"Vår referanse: (20/99999-\d+)")


def journaled_process(participants: int) -> str:
    return big_process(participants) + ARCHIVE


def load(engine: Engine, participants: int = PARTICIPANTS) -> None:
    definition = parse_definition(journaled_process(participants), file="krasjtest.toml")
    with session_scope(engine) as session:
        store_definition(session, definition, source="krasjtest.toml", now=oslo(2020, 3, 30, 8))


def entries(engine: Engine) -> list[dict[str, object]]:
    t = table_of(JournalEntry)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(t))]


def assert_gapless(rows: list[dict[str, object]]) -> None:
    sequences = sorted(int(r["sequence"]) for r in rows)  # type: ignore[call-overload]
    documents = sorted(int(r["document_number"]) for r in rows)  # type: ignore[call-overload]
    assert sequences == list(range(1, len(rows) + 1)), "løpenummer with a gap or twice"
    assert documents == list(range(FIRST, FIRST + len(rows))), "document number gap or twice"


@pytest.fixture
def pg(tmp_path: Path) -> tuple[str, Engine]:  # type: ignore[misc]
    url, drop = new_database(POSTGRES_URL, tmp_path)
    engine = make_engine(url)
    yield url, engine
    engine.dispose()
    drop()


@pytest.mark.slow
def test_ticks_senders_and_answers_at_once_take_gapless_numbers(
    pg: tuple[str, Engine], tmp_path: Path
) -> None:
    need_smtp_sink()
    url, engine = pg
    load(engine)
    answering = ["kommune-0001", "kommune-0500", "kommune-1199"]
    with PostfixSink() as sink:
        env = cli_env(tmp_path, url, sink.port)
        run_together(
            [["tick", "--at", "2020-03-30T09:30"]] * 3
            + [["send"]] * 3
            + [[*("answer", "add", "krasjtest-2020", "innspill", who), *WHAT] for who in answering],
            env,
            tmp_path,
        )
        # what is still queued (receipts planned after the ticks read the answers) goes now
        run_together([["tick", "--at", "2020-03-30T10:30"]], env, tmp_path)
        rows = entries(engine)
        letters = {r["source_key"]: r for r in rows if r["source"] == "letter"}
        answers = [r for r in rows if r["source"] == "answer"]
        assert len(answers) == len(answering)
        assert len(letters) >= PARTICIPANTS  # every invitation (and any receipt by now)
        assert_gapless(rows)

        o = table_of(OutboxMessage)
        with engine.connect() as conn:
            outbox = {r.message_id: r for r in conn.execute(select(o.c.key, o.c.message_id))}
        assert {r.key for r in outbox.values()} == set(letters), "a letter without its entry"
        arrived = 0
        for path in sink.folder.iterdir():
            message = email.message_from_bytes(path.read_bytes(), policy=default)
            row = outbox[str(message["Message-ID"])]
            entry = letters[row.key]
            expected = f"20/99999-{entry['document_number']}"
            for part in ("plain", "html"):
                body = message.get_body(preferencelist=(part,))
                assert body is not None
                assert REFERENCE.findall(body.get_content()) == [expected], row.key
            arrived += 1
        assert arrived == len(letters)
        print(f"\n{len(rows)} entries, {arrived} letters arrived, each with its own number")


def test_a_tick_that_fails_after_taking_numbers_gives_them_back(
    pg: tuple[str, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, engine = pg
    load(engine, 40)
    import innspill.engine as engine_module

    real = engine_module.number_letters

    def then_crash(*args: object, **kwargs: object) -> object:
        real(*args, **kwargs)  # type: ignore[arg-type]
        raise RuntimeError("the machine went down after the numbers were taken")

    monkeypatch.setattr(engine_module, "number_letters", then_crash)
    with pytest.raises(RuntimeError):
        tick(engine, now=NOW)
    assert entries(engine) == []
    monkeypatch.setattr(engine_module, "number_letters", real)

    assert len(tick(engine, now=NOW).queued) == 40
    rows = entries(engine)
    assert len(rows) == 40
    assert_gapless(rows)


def test_ticks_without_tokens_collide_on_the_journal_and_try_again(
    pg: tuple[str, Engine],
) -> None:
    """Without a secret key no tokens are written, so the first row two ticks of the same
    letters both write is the journal entry: the loser must plan again, not stop."""
    import threading

    _, engine = pg
    load(engine, 300)
    queued: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def run() -> None:
        start.wait()
        try:
            queued.append(len(tick(engine, now=NOW).queued))
        except BaseException as exc:  # reported below, with the others
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert sorted(queued) == [0, 0, 300]
    rows = entries(engine)
    assert len(rows) == 300
    assert_gapless(rows)
