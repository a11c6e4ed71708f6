"""Participants' tokens: derived from the secret key, stored only as hashes, looked up by hash.

A token is HMAC-SHA256(secret, purpose/process/step/participant) cut to 160 bits, written in
lower-case base32: the same token in every message to a participant for a step, so nothing
secret needs storing; the key itself comes from `secrets` (see Settings.resolved_secret_key).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session, col, select

from innspill.models import AccessToken, TokenPurpose
from innspill.models.db import insert_rows
from innspill.process.definition import ProcessDefinition
from innspill.process.workdays import end_of_day

#: What a token looks like: 32 characters of lower-case base32 (160 bits).
TOKEN_PATTERN = re.compile(r"\b([a-z2-7]{32})\b")


def derive(secret: str, purpose: TokenPurpose, process: str, step: str, participant: str) -> str:
    """The token of one participant for one step and purpose."""
    message = "/".join((purpose.value, process, step, participant)).encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()[:20]
    return base64.b32encode(digest).decode("ascii").lower()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


#: (step, participant, purpose): what a token is for within one process.
TokenKey = tuple[str, str, TokenPurpose]

#: Up to this many tokens are looked up by their hashes; more, by their process and steps.
FEW = 8


def issue(
    session: Session,
    definition: ProcessDefinition,
    *,
    step_id: str,
    participant_id: str,
    purpose: TokenPurpose,
    secret: str,
    now: datetime,
) -> str:
    """The token, with its hash recorded (once) so that it can be found again; valid to the end."""
    key = (step_id, participant_id, purpose)
    return issue_many(session, definition, [key], secret=secret, now=now)[key]


def issue_many(
    session: Session,
    definition: ProcessDefinition,
    keys: Iterable[TokenKey],
    *,
    secret: str,
    now: datetime,
) -> dict[TokenKey, str]:
    """The tokens for many (step, participant, purpose), recording the new hashes at once.

    One lookup and one executemany for the missing rows: a query and a flush per token were
    more than half of a large tick. Two ticks issuing the same tokens at once collide on
    the unique keys, and the loser (which the engine retries) finds them recorded.
    """
    tokens = {
        key: derive(secret, key[2], definition.id, key[0], key[1]) for key in dict.fromkeys(keys)
    }
    by_hash = {token_hash(token): key for key, token in tokens.items()}
    if len(by_hash) <= FEW:
        found = select(AccessToken.token_hash).where(col(AccessToken.token_hash).in_(list(by_hash)))
    else:
        # By the natural key's leading columns (the unique index on process, step,
        # participant, purpose serves it), not by a long `token_hash IN (...)`: PostgreSQL,
        # with the statistics of a table that grows during the tick, planned that as a
        # sequential scan, 50 ms a process at 200 processes.
        steps = sorted({step_id for step_id, _, _ in tokens})
        found = select(AccessToken.token_hash).where(
            AccessToken.process_id == definition.id, col(AccessToken.step_key).in_(steps)
        )
    known = set(session.exec(found).all())
    expires = end_of_day(definition.process.ends)
    rows = [
        {
            "process_id": definition.id,
            "step_key": step_id,
            "participant_key": participant_id,
            "purpose": purpose.value,
            "token_hash": digest,
            "created_at": now,
            "expires_at": expires,
        }
        for digest, (step_id, participant_id, purpose) in by_hash.items()
        if digest not in known
    ]
    if rows:
        insert_rows(session, AccessToken, rows)
    return tokens


def resolve(
    session: Session, token: str, *, purpose: TokenPurpose, now: datetime
) -> AccessToken | None:
    """The participant and step a token opens, or None if it is unknown, expired or for else."""
    if not TOKEN_PATTERN.fullmatch(token):
        return None
    row = session.exec(
        select(AccessToken).where(AccessToken.token_hash == token_hash(token))
    ).first()
    if row is None or row.purpose != purpose or row.expires_at <= now:
        return None
    return row
