"""Sign-in state kept on the server: dashboard sessions and failed sign-in attempts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer
from sqlmodel import Field, SQLModel

from innspill.models.types import UTCDateTime


class DashboardSession(SQLModel, table=True):
    """A signed-in browser. The cookie carries a random id; only its SHA-256 is stored, so a
    copy of the database signs no one in. Deleting the row ends the session."""

    __tablename__ = "dashboard_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    # CASCADE: a user deleted by any route (even by hand in SQL) takes its sessions along.
    user_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_seen_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


class SignInAttempt(SQLModel, table=True):
    """One sign-in attempt by a user name from an address, kept while it counts against the
    limit: in the database, so every dashboard process sees the same count."""

    __tablename__ = "signin_attempt"
    __table_args__ = (Index("ix_signin_attempt_key", "username", "address", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=200)
    address: str = Field(max_length=100)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
