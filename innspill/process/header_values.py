"""Values that reach a mail header: refused with line breaks or control characters, also encoded."""

from __future__ import annotations

import base64
import binascii
import quopri
import re
import unicodedata
from email.header import decode_header

from pydantic import ValidationInfo

#: An RFC 2047 encoded word as receivers (and our own intake) read it.
_ENCODED_WORD = re.compile(r"=\?([^?\s]*)\?([bBqQ])\?([^?]*)\?=")


def _bad_character(text: str) -> str | None:
    """The first line break or control character in text, named for a person."""
    for ch in text:
        if ch in "\r\n":
            return "a line break"
        if unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
            return f"the control character U+{ord(ch):04X}"
    return None


def _decoded_words(value: str) -> list[str]:
    """The text of every encoded word, decoded the way a mail reader would, leniently."""
    texts = []
    for charset, encoding, encoded in _ENCODED_WORD.findall(value):
        try:
            if encoding.lower() == "b":
                data = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
            else:
                data = quopri.decodestring(encoded.replace("_", " ").encode("latin-1"))
        except (binascii.Error, ValueError, UnicodeEncodeError):
            continue
        try:
            texts.append(data.decode(charset or "ascii", "replace"))
        except LookupError:
            texts.append(data.decode("latin-1"))
    return texts


def header_value_problem(value: str) -> str | None:
    """Why value cannot go into a mail header, or None. Encoded words (=?UTF-8?Q?...?=) are
    decoded first: a line break hidden in one would split the header at the receiver."""
    bad = _bad_character(value)
    if bad is not None:
        if bad == "a line break":
            return (
                "must be a single line: line breaks are not allowed "
                "(they could inject e-mail headers)"
            )
        return f"contains {bad}; remove it (it would go into an e-mail header)"
    if "=?" not in value:
        return None
    stdlib: list[str] = []
    malformed = False
    try:  # the sender's own check reads encoded words with the stdlib: it must not fail either
        for chunk, charset in decode_header(value):
            if isinstance(chunk, bytes):
                stdlib.append(chunk.decode(charset or "ascii", "replace"))
    except (LookupError, ValueError, binascii.Error):
        malformed = True
    for text in [*_decoded_words(value), *stdlib]:
        bad = _bad_character(text)
        if bad is not None:
            return (
                f"hides {bad} in an encoded word (=?...?=): refused, it could inject "
                "e-mail headers; write the text as it should read"
            )
    if malformed:
        return "contains a malformed encoded word (=?...?=); write the text as it should read"
    return None


#: Validation context for a definition read back from the database: it was checked when it was
#: loaded, perhaps by an older innspill with weaker checks, and must still be readable so that
#: a corrected file can replace it (`innspill doctor` validates it strictly and says so).
STORED: dict[str, bool] = {"stored": True}


def check_header_value(value: str, info: ValidationInfo) -> str:
    """A pydantic validator: the value, or ValueError saying why it cannot go into a header."""
    if info.context and info.context.get("stored"):
        return value
    problem = header_value_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value
