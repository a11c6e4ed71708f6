"""One tick of the engine: plan what is due, render it, and store it in the outbox."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlmodel import Session, col

from innspill.documents.store import latest, make_compilation
from innspill.errors import SecretKeyMismatch, TickConflict
from innspill.models import AccessToken, Event, OutboxMessage, TokenPurpose
from innspill.models.db import insert_rows, session_scope, table_of, write_transaction
from innspill.outbound.compose import REQUEST_KINDS, Outgoing, issue_tokens, outbox_row
from innspill.outbound.numbering import number_letters
from innspill.outbound.shapes import Batch
from innspill.outbound.unrenderable import carrier_failed, compose_or_fail, failed_event
from innspill.planning.planner import Action, ActionKind, plan
from innspill.planning.state import load_state, load_states
from innspill.process.definition import ProcessDefinition
from innspill.process.loading import all_definitions
from innspill.tokens import derive, token_hash

CHUNK = 500  # rows written at a time within a tick's transaction
ATTEMPTS = 6  # a tick that lost a race plans again; the next plan finds less to do

#: The unique keys a concurrent tick can make this one break: the same action recorded
#: twice (outbox, events), the same document version, the same token issued twice.
NATURAL_KEYS = {
    ("outboxmessage", ("key",)),
    ("outboxmessage", ("message_id",)),
    ("event", ("key",)),
    ("document", ("process_id", "step_key", "kind", "version")),
    ("journal_entry", ("source", "source_key")),  # a letter's entry, written before its row
    ("accesstoken", ("token_hash",)),
    # Two ticks under the same key insert the same token; under different keys this key
    # collides too, which the secret check at the start of every attempt tells apart.
    ("accesstoken", ("process_id", "step_key", "participant_key", "purpose")),
}
#: PostgreSQL's "deadlock detected" and "could not serialize": the transaction is retried.
RETRY_SQLSTATES = {"40P01", "40001"}

__all__ = ["Outgoing", "TickReport", "outbox_row", "tick", "tick_process"]


@dataclass
class TickReport:
    """What one tick queued, skipped and could not render (failed, with why), per process."""

    queued: list[Action] = field(default_factory=list)
    skipped: list[Action] = field(default_factory=list)
    compiled: list[Action] = field(default_factory=list)
    failed: list[tuple[Action, str]] = field(default_factory=list)

    def merge(self, other: TickReport) -> None:
        self.queued += other.queued
        self.skipped += other.skipped
        self.compiled += other.compiled
        self.failed += other.failed


def tick_process(
    engine: Engine,
    definition: ProcessDefinition,
    *,
    now: datetime,
    outgoing: Outgoing | None = None,
    steps: set[str] | None = None,
    planned: list[Action] | None = None,
) -> TickReport:
    """Plan one process at `now` and record every action.

    `planned` is what the caller already planned at `now` (for `steps`): it is recorded as it
    is, so a tick that planned every process once does not plan again. On PostgreSQL
    everything is one transaction. A concurrent tick that recorded the same keys first makes
    this one fail on the unique keys (or deadlock with it); it is then planned again, which
    finds nothing left to do. On SQLite, which has one writer at a time, the messages are
    rendered outside any write transaction and written in short ones, so concurrent ticks
    wait their turn briefly instead of for a whole tick.
    """
    outgoing = outgoing or Outgoing()
    sqlite = engine.dialect.name == "sqlite"
    report = TickReport()  # on SQLite it keeps what earlier attempts recorded
    last: Exception | None = None
    for attempt in range(ATTEMPTS):
        if attempt:
            # Out of step with the tick that won, so the next try does not collide again.
            time.sleep(random.uniform(0.05, 0.2) * attempt)
        try:
            if sqlite:
                given, planned = planned, None  # a retry plans again
                _tick_in_short_transactions(
                    engine,
                    definition,
                    now=now,
                    outgoing=outgoing,
                    steps=steps,
                    report=report,
                    planned=given,
                )
                return report
            with session_scope(engine) as session:
                _check_secret(session, definition, outgoing)
                if planned is None:
                    actions = plan(definition, load_state(session, definition), now, steps=steps)
                else:
                    actions, planned = planned, None
                return _record(session, definition, actions, now=now, outgoing=outgoing)
        except DBAPIError as exc:
            _raise_unless_concurrent(exc, definition)
            last = exc
    raise TickConflict(
        f"tick of '{definition.id}' collided with other ticks {ATTEMPTS} times in a row "
        f"(last: {_describe(last)}); run it again"
    )


def _check_secret(session: Session, definition: ProcessDefinition, outgoing: Outgoing) -> None:
    """Refuse to tick under a secret key other than the one the stored tokens were made with."""
    if not outgoing.secret:
        return
    token = session.scalars(
        select(AccessToken).where(col(AccessToken.process_id) == definition.id).limit(1)
    ).first()
    if token is None:
        return
    expected = token_hash(
        derive(
            outgoing.secret,
            TokenPurpose(token.purpose),
            token.process_id,
            token.step_key,
            token.participant_key,
        )
    )
    if expected != token.token_hash:
        raise SecretKeyMismatch(
            f"the access tokens of '{definition.id}' were issued under another secret key: "
            "every machine that runs ticks must use the same INNSPILL_SECRET_KEY (or the same "
            "DATA_DIR/secret_key file). With a new key, links and reply addresses in mail "
            "already sent stop working."
        )


def _unique_key(exc: DBAPIError) -> tuple[str, tuple[str, ...]] | None:
    """The table and columns of the unique key a write broke, if it was a unique key."""
    orig = exc.orig
    diag = getattr(orig, "diag", None)
    if diag is not None:  # PostgreSQL (psycopg)
        if getattr(orig, "sqlstate", None) != "23505":
            return None
        found = re.search(r"Key \((.+?)\)=", diag.message_detail or "")
        columns = tuple(c.strip() for c in found.group(1).split(",")) if found else ()
        return diag.table_name or "", columns
    found = re.search(r"UNIQUE constraint failed: (.+)", str(orig))  # SQLite
    if not found:
        return None
    names = [n.strip().split(".", 1) for n in found.group(1).split(",")]
    return names[0][0], tuple(n[-1] for n in names)


def _raise_unless_concurrent(exc: DBAPIError, definition: ProcessDefinition) -> None:
    """Return if a concurrent tick explains `exc` (try again); otherwise raise a clear error."""
    if isinstance(exc, IntegrityError):
        key = _unique_key(exc)
        if key in NATURAL_KEYS:
            return
        what = f"unique key {key[0]}({', '.join(key[1])})" if key else "a constraint"
        raise TickConflict(
            f"tick of '{definition.id}' broke {what}, which no concurrent tick explains: "
            f"{_describe(exc)}"
        ) from exc
    if isinstance(exc, OperationalError):
        if getattr(exc.orig, "sqlstate", None) in RETRY_SQLSTATES:
            return
        if "database is locked" in str(exc.orig):
            return  # SQLite's busy timeout ran out: another writer held on longer
    raise exc


def _describe(exc: BaseException | None) -> str:
    return " ".join(str(getattr(exc, "orig", None) or exc or "").split())[:300]


def _record(
    session: Session,
    definition: ProcessDefinition,
    actions: list[Action],
    *,
    now: datetime,
    outgoing: Outgoing,
) -> TickReport:
    """Apply the actions inside the caller's transaction, writing rows in chunks."""
    report = TickReport()
    messages: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []

    def flush() -> None:
        # Core inserts in chunks: no rendered message of a large tick waits for the commit.
        if messages:  # the letters' numbers, a block per chunk, locked until this tick commits
            messages[:] = number_letters(session, definition, messages, now=now)
            insert_rows(session, OutboxMessage, messages)
        if events:
            insert_rows(session, Event, events)
        messages.clear()
        events.clear()

    # Every token of the batch in one lookup and one insert, not a query and flush per message.
    tokens = issue_tokens(session, definition, actions, now=now, outgoing=outgoing)
    failed: dict[str, str] = {}  # key -> why, of the messages that could not be rendered
    batch = Batch()  # each shape of message rendered once, each step's files read once
    for action in actions:
        if action.kind == ActionKind.COMPILE:
            make_compilation(session, definition, action.step_id, now=now, basis=action.basis or "")
            report.compiled.append(action)
        elif action.sends:
            row, reason = compose_or_fail(
                session, definition, action, now=now, outgoing=outgoing, tokens=tokens, batch=batch
            )
            if reason is None:
                row, reason = carrier_failed(definition, action, row, failed, now=now)
            if reason is not None:
                failed[action.key] = reason
            messages.append(row)
            if reason is None:
                events.append(_event(definition, action, now=now))
                report.queued.append(action)
            else:  # stored as failed, with why: the others still go out
                events.append(failed_event(definition, action, now=now, reason=reason))
                report.failed.append((action, reason))
        else:
            events.append(_event(definition, action, now=now))
            report.skipped.append(action)
        if len(messages) >= CHUNK or len(events) >= CHUNK:
            flush()
    flush()
    return report


def _event(definition: ProcessDefinition, action: Action, *, now: datetime) -> dict[str, Any]:
    """The event that records an action: queued (a message), or skipped with its reason."""
    if action.sends:
        kind, detail, key = "message_queued", f"{action.kind.value} {action.sequence}", None
    else:
        kind, detail, key = f"{action.kind.value}_skipped", action.skip_reason or "", action.key
    return {
        "process_id": definition.id,
        "at": now,
        "kind": kind,
        "step_key": action.step_id,
        "participant_key": action.participant_id,
        "detail": detail,
        "key": key,
    }


def _chunks(actions: list[Action]) -> Iterator[list[Action]]:
    """About CHUNK actions at a time, never splitting one participant's actions in a step, nor
    an invitation from those it carries (planning.combine: they follow it)."""
    chunk: list[Action] = []
    for action in actions:
        if (
            len(chunk) >= CHUNK
            and action.carrier is None
            and (chunk[-1].step_id, chunk[-1].participant_id)
            != (action.step_id, action.participant_id)
        ):
            yield chunk
            chunk = []
        chunk.append(action)
    if chunk:
        yield chunk


def _tick_in_short_transactions(
    engine: Engine,
    definition: ProcessDefinition,
    *,
    now: datetime,
    outgoing: Outgoing,
    steps: set[str] | None,
    report: TickReport,
    planned: list[Action] | None = None,
) -> None:
    """SQLite: plan and render with no write lock held; write each chunk in its own transaction.

    Every chunk is written only for the keys still missing when its write lock is held, so a
    concurrent tick that got there first just makes this one write less. Tokens and
    compilations are written first (small), so that rendering only reads.
    """
    with Session(engine) as session:
        _check_secret(session, definition, outgoing)
        if planned is None:
            actions = plan(definition, load_state(session, definition), now, steps=steps)
        else:
            actions = planned
    for chunk in _chunks(actions):
        todo = _unrecorded(engine, chunk)
        if not todo:
            continue
        addressed = [a for a in todo if a.kind in REQUEST_KINDS or a.kind == ActionKind.RECEIPT]
        tokens: dict[Any, str] = {}
        if (outgoing.secret and addressed) or any(a.kind == ActionKind.COMPILE for a in todo):
            # Under the write lock from the start: the next version number of a compilation
            # and whether one is still due are read and written in one go.
            with write_transaction(engine) as conn, Session(bind=conn) as session:
                for action in todo:
                    if action.kind == ActionKind.COMPILE:
                        done = latest(session, definition.id, action.step_id, "compilation")
                        if done is not None and done.basis == (action.basis or ""):
                            continue  # a concurrent tick compiled these answers already
                        make_compilation(
                            session, definition, action.step_id, now=now, basis=action.basis or ""
                        )
                        report.compiled.append(action)
                # the chunk's tokens in one lookup and one insert
                tokens = issue_tokens(session, definition, addressed, now=now, outgoing=outgoing)
                session.flush()
        rows: dict[str, dict[str, Any]] = {}
        reasons: dict[str, str] = {}  # why a message could not be rendered (stored as failed)
        with Session(engine) as session:  # reads only: tokens and documents exist by now
            shared: dict[str, Any] = {"tokens": tokens, "batch": Batch()}  # files: this session's
            for action in todo:
                if action.sends:
                    row, reason = compose_or_fail(
                        session, definition, action, now=now, outgoing=outgoing, **shared
                    )
                    if reason is None:  # a carrier comes before what it carries (one chunk)
                        row, reason = carrier_failed(definition, action, row, reasons, now=now)
                    rows[action.key] = row
                    if reason is not None:
                        reasons[action.key] = reason
        with write_transaction(engine) as conn:
            missing = _unrecorded(engine, todo, conn=conn)
            messages = [rows[a.key] for a in missing if a.sends]
            if messages:  # numbered under the write lock: a block for the chunk
                messages = number_letters(conn, definition, messages, now=now)
                insert_rows(conn, OutboxMessage, messages)
            events = [
                failed_event(definition, a, now=now, reason=reasons[a.key])
                if a.key in reasons
                else _event(definition, a, now=now)
                for a in missing
                if a.kind != ActionKind.COMPILE
            ]
            if events:
                insert_rows(conn, Event, events)
        report.queued += [a for a in missing if a.sends and a.key not in reasons]
        report.failed += [(a, reasons[a.key]) for a in missing if a.key in reasons]
        report.skipped += [a for a in missing if not a.sends and a.kind != ActionKind.COMPILE]


def _unrecorded(
    engine: Engine, actions: list[Action], *, conn: Connection | None = None
) -> list[Action]:
    """The actions whose message or skip event is not stored yet (compilations stay)."""
    o = table_of(OutboxMessage)
    e = table_of(Event)
    sends = [a.key for a in actions if a.sends]
    skips = [a.key for a in actions if not a.sends and a.kind != ActionKind.COMPILE]

    def known(c: Connection) -> set[str]:
        found: set[str] = set()
        if sends:
            found |= set(c.execute(select(o.c.key).where(o.c.key.in_(sends))).scalars())
        if skips:
            found |= set(c.execute(select(e.c.key).where(e.c.key.in_(skips))).scalars())
        return found

    if conn is not None:
        done = known(conn)
    else:
        with engine.connect() as c:
            done = known(c)
    return [a for a in actions if a.key not in done]


def tick(engine: Engine, *, now: datetime, outgoing: Outgoing | None = None) -> TickReport:
    """Plan and record every loaded process at `now`."""
    with session_scope(engine) as session:
        definitions = all_definitions(session)
        # One read of every state (8 round trips a process alone), recorded as planned, as the
        # flow does (mail recorded meanwhile collides on its key); compilations plan anew.
        states = load_states(session, definitions)
    report = TickReport()
    for definition in definitions:
        if due := plan(definition, states[definition.id], now):
            given = None if any(a.kind == ActionKind.COMPILE for a in due) else due
            report.merge(
                tick_process(engine, definition, now=now, outgoing=outgoing, planned=given)
            )
    return report
