"""Header values of incoming mail as one line of text each, and the addresses in them."""

from __future__ import annotations

import base64
import binascii
import codecs
import quopri
import re
import unicodedata
from collections.abc import Iterable
from email.message import Message
from email.utils import getaddresses

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")
FOLD = re.compile(r"\r?\n[ \t]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_SPACES = re.compile(r"[ \t\xa0]{2,}")


def _unsurrogate(value: str) -> str:
    """Bare 8-bit bytes in a header (kept by the parser as surrogates): UTF-8, else Latin-1."""
    if value.isascii():
        return value
    raw = value.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Text in a declared charset, robustly: UTF-8 first for ASCII/Latin-1/unknown labels
    (mislabelled UTF-8 is common), the declared codec if it exists, then Latin-1."""
    name = (charset or "").strip().strip("\"'").split("*", 1)[0].lower()
    try:
        codec = codecs.lookup(name).name if name else None
    except LookupError:
        codec = None
    if codec and codec.startswith(("utf-16", "utf-32")) and b"\x00" not in data:
        codec = None  # UTF-16 text has NUL bytes; without any, the label is wrong
    if codec in (None, "ascii", "latin-1", "iso8859-1", "cp1252", "utf-8"):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("cp1252" if codec == "cp1252" else "latin-1")
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode(codec, "replace")


def _decode_word(match: re.Match[str]) -> str:
    charset, encoding, text = match.group(1), match.group(2).lower(), match.group(3)
    try:
        if encoding == "b":
            text = text.strip()
            if not re.fullmatch(r"[A-Za-z0-9+/]+=*", text):
                return match.group(0)  # a broken word stays as it was
            text = text.rstrip("=")
            data = base64.b64decode(text + "=" * (-len(text) % 4))
        else:
            data = quopri.decodestring(text.replace("_", " ").encode("latin-1"), header=False)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return match.group(0)  # a broken word stays as it was
    return decode_bytes(data, charset)


def decode_header_value(value: object) -> str:
    """One header value as one line of text: unfolded, 8-bit and encoded words decoded
    (broken ones kept literally), control characters (also encoded line breaks) as spaces."""
    text = _unsurrogate(str(value))
    text = FOLD.sub(" ", text)
    # White space between two adjacent encoded words is not part of the text (RFC 2047).
    text = re.sub(r"(\?=)[ \t\r\n]+(?==\?)", r"\1", text)
    text = _ENCODED_WORD.sub(_decode_word, text)
    text = _CONTROL.sub(" ", text)
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in text)
    return _SPACES.sub(" ", text).strip()


def raw_headers(msg: Message, name: str) -> list[str]:
    """The raw values of a header, unfolded and with 8-bit bytes decoded, not encoded words."""
    wanted = name.lower()
    return [
        _CONTROL.sub(" ", FOLD.sub(" ", _unsurrogate(str(v))))
        for k, v in msg.raw_items()
        if k.lower() == wanted
    ]


def header(msg: Message, name: str) -> str | None:
    values = raw_headers(msg, name)
    return decode_header_value(values[0]) if values else None


def addresses(values: Iterable[str]) -> list[str]:
    values = list(values)
    try:
        pairs = getaddresses(values)
    except Exception:  # a mangled address list: fall back to the plain words
        pairs = []
    found = [addr.strip().strip("<>") for _name, addr in pairs if addr and "@" in addr]
    if not found:
        found = [w.strip("<>,;\"'()") for v in values for w in v.split() if "@" in w]
    return found
