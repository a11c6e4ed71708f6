"""The sign-in limit: failed sign-ins counted per user name and client address, in the database.

The client address is the connecting one, or, behind a trusted proxy, the one it forwards.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, col, select
from starlette.requests import Request

from innspill.config.settings import IPNetwork
from innspill.models import SignInAttempt


def _address(text: str) -> str:
    """An address as written by a client or proxy, normalised ("[::1]:80" -> "::1")."""
    value = text.strip().strip('"').strip()
    if value.startswith("["):
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:  # IPv4 with a port; a bare IPv6 address has several colons
        value = value.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return value.lower()[:100] or "unknown"  # "unknown", an obfuscated name: still a key
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return str(ip)


def _trusted(address: str, trusted: Sequence[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip.version == net.version and ip in net for net in trusted)


def _forwarded_for(value: str) -> list[str]:
    """The for= of each element of an RFC 7239 Forwarded header, in order."""
    hops = []
    for element in value.split(","):
        found = "unknown"
        for pair in element.split(";"):
            name, _, given = pair.partition("=")
            if name.strip().lower() == "for":
                found = given
        hops.append(_address(found))
    return hops


def _client_of(hops: list[str], trusted: Sequence[IPNetwork]) -> str:
    """The first hop, from the right, that is not one of our proxies: the one they saw."""
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop
    return hops[0]


def client_addresses(request: Request, trusted: Sequence[IPNetwork]) -> list[str]:
    """Where a request comes from, as far as we can believe it: the connecting address, or,
    when that is a trusted proxy, the client its forwarded headers name.

    A proxy that writes one of X-Forwarded-For and Forwarded usually passes the other on as the
    client sent it, so when both are present both addresses count: the one the proxy wrote is
    always among them, and a forged one cannot lift a limit that the real one is under.
    """
    peer = _address(request.client.host if request.client else "unknown")
    if not _trusted(peer, trusted):
        return [peer]
    found = set()
    xff = ",".join(request.headers.getlist("x-forwarded-for"))
    if xff.strip():
        found.add(_client_of([_address(hop) for hop in xff.split(",")], trusted))
    forwarded = ",".join(request.headers.getlist("forwarded"))
    if forwarded.strip():
        found.add(_client_of(_forwarded_for(forwarded), trusted))
    return sorted(found) or [peer]


@dataclass(frozen=True)
class SignInLimit:
    """At most `max_failures` failed sign-ins for one user name from one address within
    `window`; the count is in the database, so every dashboard process shares it."""

    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)

    def claim(
        self, session: Session, username: str, *, addresses: Sequence[str], now: datetime
    ) -> tuple[list[int], int]:
        """Record an attempt before its password is checked; its rows, and seconds to wait.

        Written and committed first, then counted: of several attempts at once (in several
        processes), the later ones see the earlier ones, so no more than the limit get through.
        """
        name = username.strip().lower()[:200]
        session.exec(delete(SignInAttempt).where(col(SignInAttempt.at) <= now - self.window))
        mine = [SignInAttempt(username=name, address=a, at=now) for a in addresses]
        session.add_all(mine)
        session.commit()
        ids = [row.id for row in mine if row.id is not None]
        wait = 0
        for address in addresses:
            others = sorted(
                at
                for row_id, at in session.exec(
                    select(SignInAttempt.id, SignInAttempt.at)
                    .where(col(SignInAttempt.username) == name)
                    .where(col(SignInAttempt.address) == address)
                    .where(col(SignInAttempt.at) > now - self.window)
                )
                if row_id not in ids
            )
            if len(others) >= self.max_failures:
                # free again when fewer than max_failures of the others are inside the window
                until = others[len(others) - self.max_failures] + self.window
                wait = max(wait, max(1, math.ceil((until - now).total_seconds())))
        return ids, wait

    def release(self, session: Session, ids: Sequence[int]) -> None:
        """Forget attempts that were refused or succeeded: they are not failures."""
        if ids:
            session.exec(delete(SignInAttempt).where(col(SignInAttempt.id).in_(ids)))
        session.commit()

    def succeeded(self, session: Session, username: str, *, addresses: Sequence[str]) -> None:
        """A right password clears the count for this name from these addresses."""
        name = username.strip().lower()[:200]
        session.exec(
            delete(SignInAttempt)
            .where(col(SignInAttempt.username) == name)
            .where(col(SignInAttempt.address).in_(list(addresses)))
        )
