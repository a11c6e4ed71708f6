"""Which files participants and administrators may hand in, told by their bytes, not their name.

Below every package of innspill (it imports none of them): answers, drafts and the files a
process file attaches are checked with the same bounds. `innspill.documents.files` re-exports it.
"""

from __future__ import annotations

import io
import re
import zipfile

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT = "application/vnd.oasis.opendocument.text"
EXTENSIONS = {PDF: ".pdf", DOCX: ".docx", ODT: ".odt"}

#: Bounds on what a DOCX or ODT may unpack to. A real document of a few hundred pages unpacks to
#: some MB with members compressed 3 to 20 times; a ZIP bomb declares gigabytes in a few KB.
MAX_UNPACKED_BYTES = 100 * 1024 * 1024
MAX_MEMBER_RATIO = 100
RATIO_FROM_BYTES = 1024 * 1024  # tiny members (an empty XML part) may compress more than 100:1
MAX_MEMBERS = 5_000


def sniff(data: bytes) -> str | None:
    """PDF, DOCX or ODT by content; None for anything else (a renamed text file, a plain ZIP,
    a ZIP bomb: see `unsafe_archive` for why)."""
    content_type, _problem = inspect(data)
    return content_type


def unsafe_archive(data: bytes) -> str | None:
    """Why a DOCX/ODT (a ZIP) must not be taken: it unpacks to too much; None if it is fine."""
    return inspect(data)[1]


def inspect(data: bytes) -> tuple[str | None, str | None]:
    """The file's type told by content, and why it is refused when it is a ZIP bomb.

    The sizes checked are those the archive declares: Python's zipfile (and any reader that
    checks CRCs) never unpacks a member beyond its declared size, so they bound the work.
    """
    if data.startswith(b"%PDF-"):
        return PDF, None
    if not data.startswith(b"PK\x03\x04"):
        return None, None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            problem = _bomb(archive.infolist())
            if problem is not None:
                return None, problem
            return _office_type(archive), None
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, KeyError):
        return None, None


def _bomb(members: list[zipfile.ZipInfo]) -> str | None:
    mb = 1024 * 1024
    if len(members) > MAX_MEMBERS:
        return f"an archive of {len(members)} files (at most {MAX_MEMBERS}): refused as unsafe"
    total = sum(m.file_size for m in members)
    if total > MAX_UNPACKED_BYTES:
        return (
            f"unpacks to {total / mb:.0f} MB (at most {MAX_UNPACKED_BYTES // mb} MB): "
            "refused as unsafe (a ZIP bomb?)"
        )
    for member in members:
        if member.file_size < RATIO_FROM_BYTES:
            continue
        ratio = member.file_size / max(member.compress_size, 1)
        if ratio > MAX_MEMBER_RATIO:
            return (
                f"a part of it ({member.filename[:80]}) is compressed {ratio:.0f}:1 (at most "
                f"{MAX_MEMBER_RATIO}:1): refused as unsafe (a ZIP bomb?)"
            )
    return None


def _office_type(archive: zipfile.ZipFile) -> str | None:
    names = set(archive.namelist())
    if "mimetype" in names:
        with archive.open("mimetype") as member:  # read a little: it may be huge
            if member.read(100).strip() == ODT.encode():
                return ODT
    if "word/document.xml" in names:
        return DOCX
    return None


def safe_filename(name: str, content_type: str | None = None) -> str:
    """A file name without path, control characters or leading dots, with the right extension."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip().lstrip(".") or "vedlegg"
    name = name[:200]
    if content_type in EXTENSIONS and not name.lower().endswith(EXTENSIONS[content_type]):
        name = f"{name.rsplit('.', 1)[0] if '.' in name else name}{EXTENSIONS[content_type]}"
    return name
