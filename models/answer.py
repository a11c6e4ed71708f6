"""Answers (innspill) from participants; every version is kept, the latest counts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from innspill.models.types import UTCDateTime


class Answer(SQLModel, table=True):
    """One version of a participant's answer to a request step.

    `version` numbers the versions in the order they were registered, and never changes (a
    receipt, an event and a compilation's basis name a version by it). Which version counts is
    the one received last (`received_at`, then `version`): a message held and assigned later
    is registered after an answer it came before, and must not replace it.
    """

    __table_args__ = (UniqueConstraint("process_id", "step_key", "participant_key", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    process_id: str = Field(foreign_key="process.id", index=True)
    step_key: str = Field(max_length=80)
    participant_key: str = Field(max_length=80)
    version: int = 1
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    channel: str = Field(max_length=20)  # email, form, registered
    registered_by: str = ""
    # When it became an answer: as received for mail read by token and the form, later for a
    # held message assigned by a person (or a letter registered by hand after the fact).
    registered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    text_json: str = "{}"  # theme id -> text, as it counts (greetings and signatures removed)
    # theme id -> text as typed in the form or registered by hand, before it was cleaned; ""
    # when it was not (mail: the raw message is kept in InboundMessage)
    raw_json: str = Field(default="", sa_column_kwargs={"server_default": ""})
