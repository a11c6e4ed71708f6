"""E-mail addresses in process files: checked exactly as pydantic's EmailStr checks them, with
the domain's check remembered.

`email-validator` spends most of its time on the domain (IDNA and Unicode rules, character by
character), and a round's thousands of participants share a few domains: 8,000 addresses took
0.28 s, a third of checking such a file. An address whose local part is plain ASCII (a
dot-atom, the usual `fornavn.etternavn`) is checked as that local part at its domain, the
domain checked once; any other address (quoted, international, with a display name, with
blanks) gets the full check. tests/test_addresses.py holds the two paths to the same answers.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pydantic.networks import validate_email

#: RFC 5322 atext, in dots, at most 64 characters: what email-validator takes unchanged.
_PLAIN_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LOCAL_MAX = 64
_ADDRESS_MAX = 254


def email_address(value: str) -> str:
    """The address normalised as EmailStr would return it; raises pydantic's error if not valid."""
    local, at, domain = value.rpartition("@")
    if at and len(local) <= _LOCAL_MAX and _PLAIN_LOCAL.fullmatch(local):
        normalized = f"{local}@{_domain(domain)}"
        if len(normalized) <= _ADDRESS_MAX:
            return normalized
    return full_check(value)


def full_check(value: str) -> str:
    """What EmailStr does with the address."""
    return validate_email(value)[1]


@lru_cache(maxsize=4096)
def _domain(domain: str) -> str:
    """The domain normalised, checked as the domain of an address (errors name it as such)."""
    return full_check(f"x@{domain}").rpartition("@")[2]
