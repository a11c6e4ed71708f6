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
from datetime import datetime

from sqlmodel import Session, select

from innspill.models import AccessToken, TokenPurpose
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
    token = derive(secret, purpose, definition.id, step_id, participant_id)
    digest = token_hash(token)
    known = session.exec(select(AccessToken.id).where(AccessToken.token_hash == digest)).first()
    if known is None:
        session.add(
            AccessToken(
                process_id=definition.id,
                step_key=step_id,
                participant_key=participant_id,
                purpose=purpose,
                token_hash=digest,
                created_at=now,
                expires_at=end_of_day(definition.process.ends),
            )
        )
        session.flush()
    return token


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
