"""What keeps a large tick fast: tokens issued in bulk, and parsed definitions kept."""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from innspill.engine import CHUNK, tick, tick_process
from innspill.inbound.answers import register_answer
from innspill.models import AccessToken, OutboxMessage, TokenPurpose
from innspill.models.db import session_scope
from innspill.outbound.compose import Outgoing
from innspill.planning.state import load_state, load_states
from innspill.process import loading
from innspill.process.deadlines import change_deadline
from innspill.process.definition import ProcessDefinition, parse_definition
from innspill.process.loading import all_definitions, get_definition, store_definition
from innspill.tokens import resolve
from tests.conftest import oslo

OPENS = date(2025, 3, 3)  # a Monday
OPENING = oslo(2025, 3, 3, 10)  # the invitations are due
REMINDER = oslo(2025, 3, 19, 10)  # two working days before the deadline (21 March)
OUTGOING = Outgoing(secret="s3cret", public_url="https://innspill.etat.example")


def process_toml(process_id: str, participants: int, *, title: str = "Innspill") -> str:
    lines = [
        "[process]",
        f'id = "{process_id}"',
        f'title = "{title}"',
        'reference = "25/1"',
        'language = "nb"',
        "ends = 2025-06-30",
        "[sender]",
        'organisation = "Etaten"',
        'unit = "Avdelingen"',
        'email = "innspill@etat.example"',
        'case_officer = "Kari Nordmann"',
        'signature_name = "Ola Nordmann"',
        'signature_title = "Direktør"',
        'address_lines = ["Postboks 1"]',
    ]
    for n in range(participants):
        lines += [
            "[[participants]]",
            f'id = "p{n:05d}"',
            f'name = "Deltaker {n}"',
            'role = "secretariat"',
            f'email = "p{n:05d}@{process_id}.example"',
        ]
    lines += [
        "[[themes]]",
        'id = "rolle"',
        'title = "Rolle"',
        'questions = ["Hva bør endres?"]',
        "[[steps]]",
        'id = "innspill"',
        'kind = "request"',
        'title = "Innspill til retningslinjene"',
        f"opens = {OPENS.isoformat()}",
        "deadline = 2025-03-21",
        "reminders = { before = [2], overdue_max = 0, hour = 9 }",
    ]
    return "\n".join(lines)


def load(engine: Engine, process_id: str, participants: int, **kw: Any) -> ProcessDefinition:
    definition = parse_definition(process_toml(process_id, participants, **kw))
    with session_scope(engine) as session:
        store_definition(session, definition, source="<test>", now=oslo(2025, 3, 1))
    return definition


@contextmanager
def token_statements(engine: Engine) -> Iterator[dict[str, int]]:
    """Count the SELECTs and INSERTs on the token table issued through `engine`."""
    counts = {"select": 0, "insert": 0}

    def seen(conn: Any, clause: Any, *args: Any) -> None:
        sql = str(clause).lower()
        if "accesstoken" in sql:
            counts["insert" if sql.lstrip().startswith("insert") else "select"] += 1

    event.listen(engine, "before_execute", seen)
    try:
        yield counts
    finally:
        event.remove(engine, "before_execute", seen)


def ref_token(raw: bytes) -> str:
    match = re.search(rb"^Reply-To: innspill\+([a-z2-7]{32})@", raw, re.MULTILINE)
    assert match, "no reply token in the Reply-To address"
    return match.group(1).decode()


def test_a_tick_issues_its_tokens_in_a_few_statements(engine: Engine) -> None:
    # Two tokens (reply and form) for each participant.
    n = 520
    load(engine, "stor", n)
    with token_statements(engine) as counts:
        report = tick(engine, now=OPENING, outgoing=OUTGOING)
    assert len(report.queued) == n
    # One lookup and one insert per write: the whole tick on PostgreSQL, each chunk of CHUNK
    # actions on SQLite (short write transactions); plus the one check of the secret key.
    writes = -(-n // CHUNK) if engine.dialect.name == "sqlite" else 1
    assert counts == {"select": 1 + writes, "insert": writes}
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(AccessToken)) == 2 * n
        rows = session.execute(select(OutboxMessage.participant_key, OutboxMessage.raw)).all()
        assert len(rows) == n
        for participant, raw in rows:
            # Every message carries its own participant's token, and the hash is recorded.
            found = resolve(session, ref_token(raw), purpose=TokenPurpose.REPLY, now=OPENING)
            assert found is not None and found.participant_key == participant
            form = re.search(rb"/svar/([a-z2-7]{32})", raw.replace(b"=\r\n", b""))
            assert form is not None
            found = resolve(session, form.group(1).decode(), purpose=TokenPurpose.FORM, now=OPENING)
            assert found is not None and found.participant_key == participant


def test_a_later_tick_reuses_the_recorded_tokens(engine: Engine) -> None:
    load(engine, "liten", 30)
    tick(engine, now=OPENING, outgoing=OUTGOING)
    with token_statements(engine) as counts:
        report = tick(engine, now=REMINDER, outgoing=OUTGOING)
    assert [a.kind.value for a in report.queued] == ["reminder"] * 30
    assert counts == {"select": 2, "insert": 0}  # the secret key's check, and the lookup
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(AccessToken)) == 60
        by_participant: dict[str, set[str]] = {}
        for participant, raw in session.execute(
            select(OutboxMessage.participant_key, OutboxMessage.raw)
        ).all():
            by_participant.setdefault(participant, set()).add(ref_token(raw))
    # The invitation and the reminder carry the same token; every participant has their own.
    assert all(len(tokens) == 1 for tokens in by_participant.values())
    assert len({next(iter(t)) for t in by_participant.values()}) == 30


def test_racing_ticks_record_each_token_and_message_once(engine: Engine) -> None:
    definition = load(engine, "race", 200)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    queued: list[int] = []

    def run() -> None:
        try:
            barrier.wait()
            queued.append(
                len(tick_process(engine, definition, now=OPENING, outgoing=OUTGOING).queued)
            )
        except BaseException as exc:  # reported below, with the thread's own error
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    # One tick queued everything; the other, retried on the unique keys, found nothing left.
    assert sorted(queued) == [0, 200]
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(AccessToken)) == 400
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 200


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of the stored definitions parsed (validated) from here on."""
    seen: list[str] = []
    original = ProcessDefinition.model_validate_json.__func__  # type: ignore[attr-defined]

    def counting(cls: type[ProcessDefinition], data: Any, **kw: Any) -> ProcessDefinition:
        parsed = original(cls, data, **kw)
        seen.append(parsed.id)
        return parsed

    loading.clear_cache()
    monkeypatch.setattr(ProcessDefinition, "model_validate_json", classmethod(counting))
    yield seen
    loading.clear_cache()


def test_many_processes_are_parsed_once_not_on_every_tick(
    engine: Engine, parses: list[str]
) -> None:
    count = loading.MIN_CACHED + 16  # more than a fixed cache of 64 held
    for n in range(count):
        load(engine, f"p{n:03d}", 2)
    parses.clear()
    with session_scope(engine) as session:
        first = all_definitions(session)
    assert len(parses) == count
    parses.clear()
    with session_scope(engine) as session:
        again = all_definitions(session)
        one = get_definition(session, "p007")
    assert parses == []
    assert all(a is b for a, b in zip(first, again, strict=True))
    assert one is first[7]


def test_a_reloaded_process_is_parsed_again_and_its_old_version_dropped(
    engine: Engine, parses: list[str]
) -> None:
    load(engine, "a", 2)
    load(engine, "b", 2)
    with session_scope(engine) as session:
        assert [d.process.title for d in all_definitions(session)] == ["Innspill"] * 2
    load(engine, "b", 2, title="Innspill, ny tittel")
    parses.clear()
    with session_scope(engine) as session:
        titles = [d.process.title for d in all_definitions(session)]
    assert titles == ["Innspill", "Innspill, ny tittel"]
    assert parses == ["b"]
    assert len(loading._DEFINITIONS) == 2


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every statement issued through `engine`."""
    seen: list[str] = []

    def record(conn: Any, clause: Any, *args: Any) -> None:
        seen.append(str(clause))

    event.listen(engine, "before_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_execute", record)


def test_a_tick_with_nothing_due_reads_all_processes_in_one_round(engine: Engine) -> None:
    for n in range(12):
        load(engine, f"p{n:02d}", 3)
    tick(engine, now=OPENING, outgoing=OUTGOING)
    with statements(engine) as seen:
        report = tick(engine, now=OPENING, outgoing=OUTGOING)
    assert report.queued == [] and report.skipped == []
    # The definitions, then one query per kind of state, whatever the number of processes.
    assert len(seen) <= 10, seen


def test_states_read_together_equal_states_read_one_by_one(engine: Engine) -> None:
    a, b, c = (load(engine, pid, 4) for pid in ("a", "b", "c"))
    tick(engine, now=OPENING, outgoing=OUTGOING)
    with session_scope(engine) as session:
        register_answer(
            session,
            a,
            step_id="innspill",
            participant_id="p00001",
            texts={"rolle": "Ja."},
            at=oslo(2025, 3, 5, 12),
        )
        register_answer(
            session,
            a,
            step_id="innspill",
            participant_id="p00001",
            texts={"rolle": "Nei."},
            at=oslo(2025, 3, 6, 12),
        )
        change_deadline(session, b, step_id="innspill", deadline=date(2025, 3, 28), at=OPENING)
        change_deadline(
            session,
            b,
            step_id="innspill",
            deadline=date(2025, 4, 4),
            at=OPENING,
            participant_id="p00002",
        )
    tick(engine, now=REMINDER, outgoing=OUTGOING)
    with session_scope(engine) as session:
        together = load_states(session, [a, b, c])
        apart = {d.id: load_state(session, d) for d in (a, b, c)}
    assert together == apart
    assert together["a"].answered_at[("innspill", "p00001")] == oslo(2025, 3, 5, 12)
    assert [r.version for r in together["a"].answers["innspill"]] == [1, 2]
    assert together["b"].deadlines[("innspill", "p00002")] == date(2025, 4, 4)
    assert together["b"].deadlines[("innspill", "p00001")] == date(2025, 3, 28)
    assert len(together["c"].recorded_keys) == 8  # 4 invitations and 4 reminders


def test_the_remembered_wordwrap_wraps_exactly_as_jinja_does() -> None:
    # Tokens are wrapped as placeholders of their length; the result must not tell.
    from jinja2.filters import do_wordwrap

    from innspill.outbound.templates import _wordwrap, environment
    from innspill.tokens import derive

    env = environment()
    rng = random.Random(7)
    words = ["Svar", "på", "e-posten", "til", "saken", "«Innspill»", "-", "a", "\u00a0", "x" * 80]
    for n in range(3000):
        parts = []
        for _ in range(rng.randint(0, 40)):
            token = derive("k", TokenPurpose.REPLY, "p", "s", str(rng.random()))
            parts.append(
                rng.choice([*words, f"innspill+{token}@etat.example", f"https://x/svar/{token}"])
            )
            parts.append(rng.choice([" ", " ", "  ", "\n", "\t", "\n\n", ""]))
        text = "".join(parts)
        for width, wrapstring in ((76, None), (20, "\n   "), (rng.randint(5, 90), "\n  ")):
            expected = do_wordwrap(env, text, width, False, wrapstring, False)
            assert _wordwrap(env, text, width, False, wrapstring, False) == expected, (n, text)
            # Once more: now from the cache.
            assert _wordwrap(env, text, width, False, wrapstring, False) == expected, (n, text)
