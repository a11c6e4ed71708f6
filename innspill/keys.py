"""One secret key for every machine: the database keeps the key's fingerprint and checks it."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from innspill.errors import SecretKeyMismatch
from innspill.models import Installation

#: What the fingerprint is an HMAC of: fixed, so the same key always gives the same print.
LABEL = b"innspill secret key fingerprint v1"


def fingerprint(secret: str) -> str:
    """HMAC-SHA256 of a fixed label under the key: equal for equal keys, and reveals nothing."""
    return hmac.new(secret.encode(), LABEL, hashlib.sha256).hexdigest()


def recorded(engine: Engine) -> str | None:
    """The fingerprint the database was set up with, if one was recorded."""
    with Session(engine) as session:
        row = session.get(Installation, 1)
        return row.key_fingerprint if row else None


def ensure_key(engine: Engine, secret: str, *, now: datetime) -> None:
    """Record this key's fingerprint if none is, or refuse a key that differs from it.

    Tokens in reply addresses and links are derived from the key, so a machine with another
    key would plan and send tokens nobody can use, and reject the ones already sent.
    """
    mine = fingerprint(secret)
    known = recorded(engine)
    if known is None:
        try:
            with Session(engine) as session:
                session.add(Installation(id=1, key_fingerprint=mine, created_at=now))
                session.commit()
            return
        except IntegrityError:  # another process recorded its key first: compare with that
            known = recorded(engine)
    if known is not None and not hmac.compare_digest(known, mine):
        raise SecretKeyMismatch(
            "this machine's secret key differs from the one the database was set up with: set "
            "INNSPILL_SECRET_KEY to the same value on every machine that uses this database "
            "(the key in use where it was first set up, e.g. its DATA_DIR/secret_key)"
        )
