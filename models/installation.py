"""The installation: facts every process using the database must agree on (the key)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from innspill.models.types import UTCDateTime


class Installation(SQLModel, table=True):
    """One row (id 1): the secret key's fingerprint, written by the first process to start."""

    id: int = Field(default=1, primary_key=True)
    # HMAC of a fixed label under the key: tells keys apart without revealing the key.
    key_fingerprint: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
