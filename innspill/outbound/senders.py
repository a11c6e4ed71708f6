"""Who is sending: a sender's name and process, whether it still runs, and what others hold.

A sender's claims carry its name, `host:pid:random`. It also records its process (the pid's
start time, and the boot and process namespace where that pid means it) in `senderprocess`,
so that another sender on the same host can tell at once that it died (`kill -9`, a crash)
and take its claims, instead of waiting for the lease to run out. Senders elsewhere, or on a
system without /proc, fall back on the lease.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Connection

from innspill.models import SenderProcess
from innspill.models.db import table_of
from innspill.outbound.claims import SENDING, release_in, table

PROC = Path("/proc")


@dataclass(frozen=True)
class Sender:
    """One dispatch's identity."""

    name: str  # host:pid:random, as its claims carry it
    host: str
    pid: int
    scope: str | None  # where `pid` means this process: the boot and the pid namespace
    started: int | None  # the process's start, in clock ticks after boot


@dataclass(frozen=True)
class Held:
    """Messages held by another sender's lease: how many, until when, and by whom."""

    count: int
    until: datetime
    holders: int


def this_sender() -> Sender:
    """A new identity for a dispatch of this process (unique across machines)."""
    host = socket.gethostname()[:60]
    pid = os.getpid()
    return Sender(f"{host}:{pid}:{secrets.token_hex(4)}", host, pid, scope(), started(pid))


@cache
def scope() -> str | None:
    """This boot and pid namespace, where a pid names one process; None without /proc."""
    try:
        boot = (PROC / "sys/kernel/random/boot_id").read_text().strip()
        namespace = (PROC / "self/ns/pid").stat().st_ino
    except OSError:
        return None
    return f"{boot}/{namespace}"


def started(pid: int) -> int | None:
    """When process `pid` started (clock ticks after boot), or None if it does not run.

    A zombie (killed, not yet reaped by its parent) does not run either.
    """
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The name in parentheses may hold spaces: the fields that follow count from its end.
    fields = text[text.rfind(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def runs(pid: int, since: int | None) -> bool:
    """Whether a sender of this scope still runs: its pid lives, and started when it did."""
    return since is not None and started(pid) == since


def register(conn: Connection, sender: Sender, *, at: datetime) -> None:
    """Record a sender before its first claim."""
    conn.execute(
        insert(table_of(SenderProcess)).values(
            name=sender.name,
            host=sender.host,
            scope=sender.scope,
            pid=sender.pid,
            started=sender.started,
            since=at,
        )
    )


def unregister(conn: Connection, name: str) -> None:
    """Forget a sender that has finished (its claims are released or marked by then)."""
    s = table_of(SenderProcess)
    conn.execute(delete(s).where(s.c.name == name))


def take_over_dead(conn: Connection, me: Sender) -> int:
    """Give back the claims of senders of this scope that no longer run; forget those senders.

    Returns how many messages were given back (due at once, for any sender).
    """
    if me.scope is None:
        return 0
    s = table_of(SenderProcess)
    ours = conn.execute(select(s).where(s.c.scope == me.scope, s.c.name != me.name)).all()
    dead = [row.name for row in ours if not runs(row.pid, row.started)]
    if not dead:
        return 0
    released = release_in(conn, dead)
    conn.execute(delete(s).where(s.c.name.in_(dead)))
    return released


def held_by_others(conn: Connection, *, at: datetime, me: str | None = None) -> Held | None:
    """Messages another sender holds under a lease still running at `at` (the wall clock)."""
    t = table()
    query = select(func.count(), func.max(t.c.lease_until), func.count(t.c.claimed_by.distinct()))
    query = query.where(t.c.status == SENDING, t.c.lease_until >= at)
    if me is not None:
        query = query.where(t.c.claimed_by != me)
    count, until, holders = conn.execute(query).one()
    if not count:
        return None
    return Held(int(count), until, int(holders))
