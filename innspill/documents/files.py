"""Which files may be handed in, told by their bytes: kept where callers have always found it;
the checks live in `innspill.filetypes`, below every package (process files use them too)."""

from innspill.filetypes import (
    DOCX,
    EXTENSIONS,
    MAX_MEMBER_RATIO,
    MAX_MEMBERS,
    MAX_UNPACKED_BYTES,
    ODT,
    PDF,
    RATIO_FROM_BYTES,
    inspect,
    safe_filename,
    sniff,
    unsafe_archive,
)

__all__ = [
    "DOCX",
    "EXTENSIONS",
    "MAX_MEMBERS",
    "MAX_MEMBER_RATIO",
    "MAX_UNPACKED_BYTES",
    "ODT",
    "PDF",
    "RATIO_FROM_BYTES",
    "inspect",
    "safe_filename",
    "sniff",
    "unsafe_archive",
]
