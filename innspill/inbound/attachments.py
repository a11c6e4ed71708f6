"""Files attached to a reply: safely named, told by their content, limited in size and number."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from email.message import Message
from email.utils import collapse_rfc2231_value

from innspill.documents.files import DOCX, ODT, PDF, inspect
from innspill.inbound.headers import decode_header_value
from innspill.inbound.mimewalk import payload_bytes

ALLOWED_TYPES: frozenset[str] = frozenset({PDF, DOCX, ODT})
_EXTENSIONS = {PDF: ".pdf", DOCX: ".docx", ODT: ".odt"}
_LABELS = {PDF: "PDF", DOCX: "DOCX", ODT: "ODT"}
MAX_FILENAME = 200


@dataclass(frozen=True)
class InboundFile:
    filename: str
    content_type: str
    data: bytes


def clean_filename(name: str) -> str:
    """A file name without path, control or format characters, leading dots; at most 200."""
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp"))
    name = name.strip().lstrip(".").strip()
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: MAX_FILENAME - len(ext) - 1].rstrip() + "." + ext
        else:
            name = name[:MAX_FILENAME].rstrip()
    return name


def _filename(part: Message) -> str:
    raw = part.get_param("filename", header="content-disposition") or part.get_param("name")
    if raw is None:
        return ""
    value = collapse_rfc2231_value(raw) if isinstance(raw, tuple) else str(raw)
    return clean_filename(decode_header_value(value))


def accept(
    part: Message,
    *,
    allowed_types: frozenset[str],
    max_file_bytes: int,
    max_files: int,
    accepted: int,
) -> tuple[InboundFile | None, str | None]:
    declared = part.get_content_type()
    name = _filename(part)
    label = name or f"(unnamed {declared})"
    if declared == "message/rfc822":
        return None, f"{label}: a forwarded message is not accepted as a file"
    encoded = part.get_payload()
    if isinstance(encoded, str) and len(encoded) > max_file_bytes * 4 // 3 + 65_536 + 1024:
        return None, f"{label}: too big (more than {max_file_bytes // (1024 * 1024)} MB)"
    data = payload_bytes(part)
    if len(data) > max_file_bytes:
        size = len(data) / (1024 * 1024)
        return None, f"{label}: too big ({size:.1f} MB > {max_file_bytes // (1024 * 1024)} MB)"
    detected, unsafe = inspect(data)
    if unsafe is not None:
        return None, f"{label}: {unsafe}"
    ext = ("." + name.rpartition(".")[2].lower()) if "." in name else ""
    if detected is None or detected not in allowed_types:
        claimed = next((t for t, e in _EXTENSIONS.items() if e == ext), None)
        if claimed and claimed in allowed_types:
            return None, f"{label}: content is not a {_LABELS[claimed]} file"
        return None, f"{label}: type not allowed ({declared})"
    if ext and ext != _EXTENSIONS[detected]:
        return None, f"{label}: name does not match its content ({_LABELS[detected]})"
    if accepted >= max_files:
        return None, f"{label}: too many files (at most {max_files})"
    if not ext:
        name = (name or "attachment")[: MAX_FILENAME - 5] + _EXTENSIONS[detected]
    return InboundFile(filename=name, content_type=detected, data=data), None
