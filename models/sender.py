"""Senders at work and the relay's pace: what every sender shares through the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, SQLModel

from innspill.models.types import UTCDateTime


class SenderProcess(SQLModel, table=True):
    """A sender at work (a send, a tick, a served run): who it is, so a dead one can be told.

    `name` is what its outbox claims carry (`claimed_by`: host:pid:random). Another sender
    in the same `scope` (the same boot and process namespace, where `pid` means the same
    process) takes the claims of one that no longer runs at once instead of after the lease.
    """

    name: str = Field(primary_key=True, max_length=120)
    host: str = Field(max_length=100)
    scope: str | None = Field(default=None, max_length=120)  # unknown: its lease decides
    pid: int
    # The process's start in clock ticks after boot (/proc/PID/stat): a reused pid differs.
    started: int | None = Field(default=None, sa_column=Column(BigInteger()))
    since: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class RelayPace(SQLModel, table=True):
    """The pace of one SMTP relay, shared by every sender: the next free slot and a lowering.

    `next_at` is the wall-clock time from which the next message may leave (slots are handed
    out in short transactions). `rate` (messages a second) is set when the relay asked to slow
    down, at `lowered_at`; it grows back towards the configured rate while the relay is quiet.
    """

    relay: str = Field(primary_key=True, max_length=200)
    next_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    rate: float | None = None
    lowered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    note: str | None = Field(default=None, max_length=500)  # the relay's words, last time


class RelayUsage(SQLModel, table=True):
    """Recipients handed to a relay per hour (wall clock, UTC): the daily limit's count."""

    relay: str = Field(primary_key=True, max_length=200)
    hour: datetime = Field(sa_column=Column(UTCDateTime(), primary_key=True))
    recipients: int = 0
