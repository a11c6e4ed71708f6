"""Dashboard accounts: administrators who act and viewers who read the progress pages."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from innspill.models.types import UTCDateTime


class Role(StrEnum):
    """What a dashboard user may do."""

    ADMIN = "admin"  # reads every page and may act (manage users, and the coming actions)
    VIEWER = "viewer"  # reads every page, changes nothing


class User(SQLModel, table=True):
    """A dashboard user; the password is kept only as an argon2 hash."""

    __tablename__ = "app_user"  # "user" is a reserved word in PostgreSQL
    # SQLite would give a new row the largest rowid + 1, so a user added after the newest one
    # was removed got the removed one's id back; AUTOINCREMENT never reuses an id (PostgreSQL's
    # sequences never do), so nothing tied to an old id can come back to life.
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, max_length=80)
    password_hash: str = Field(max_length=200)
    role: Role = Field(default=Role.VIEWER, sa_type=String(10))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_login_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
