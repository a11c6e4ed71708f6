"""Which files participants and administrators may hand in, told by their bytes, not their name."""

from __future__ import annotations

import io
import re
import zipfile

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT = "application/vnd.oasis.opendocument.text"
EXTENSIONS = {PDF: ".pdf", DOCX: ".docx", ODT: ".odt"}


def sniff(data: bytes) -> str | None:
    """PDF, DOCX or ODT by content; None for anything else (a renamed text file, a plain ZIP)."""
    if data.startswith(b"%PDF-"):
        return PDF
    if not data.startswith(b"PK\x03\x04"):
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                with archive.open("mimetype") as member:  # read a little: it may be huge
                    if member.read(100).strip() == ODT.encode():
                        return ODT
            if "word/document.xml" in names:
                return DOCX
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, KeyError):
        return None
    return None


def safe_filename(name: str, content_type: str | None = None) -> str:
    """A file name without path, control characters or leading dots, with the right extension."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip().lstrip(".") or "vedlegg"
    name = name[:200]
    if content_type in EXTENSIONS and not name.lower().endswith(EXTENSIONS[content_type]):
        name = f"{name.rsplit('.', 1)[0] if '.' in name else name}{EXTENSIONS[content_type]}"
    return name
