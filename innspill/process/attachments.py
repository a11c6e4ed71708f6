"""A step's attachments: read and checked from beside the process file, stored by content hash.

A step names each file by its bare name, and the file must lie in the process file's own
folder (from the dashboard: be uploaded with it). Anything that could reach another file (a
folder, `..`, an absolute or `~` path, a link out of the folder, control characters, a name
that is not what it looks like) is refused by its name alone, before the file system is asked,
so the message is the same whether or not such a file exists.

`read_step_files` checks every file a process file names (it exists, is not too large, has an
allowed type) and is what `validate` runs; `store_step_files` keeps each distinct content once
(by SHA-256) and points the step's link rows at it; `step_files` reads them back for a message
or the answer form. A content row is never changed: a reloaded file with new bytes is a new row.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from innspill.errors import DefinitionError, Problem
from innspill.filetypes import DOCX, ODT, PDF, inspect
from innspill.process.schema import ProcessDefinition, RequestStep

if TYPE_CHECKING:  # the database layer is imported by the functions that store and read:
    # checking a process file (`innspill validate`) does without it
    from sqlmodel import Session

#: The largest file a step may carry: mail servers commonly refuse messages over 10-25 MB,
#: and base64 makes a file a third larger.
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024

#: Allowed types by extension. PDF, DOCX and ODT are also told by their content, as drafts and
#: answers are (innspill.filetypes: a renamed file and a ZIP bomb are refused); text and
#: Markdown must be UTF-8.
TYPES = {
    ".pdf": PDF,
    ".docx": DOCX,
    ".odt": ODT,
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
}


@dataclass(frozen=True)
class StepFile:
    """One attachment of a step: the name it is sent under, its type and its bytes."""

    step_id: str
    filename: str
    content_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def read_step_files(definition: ProcessDefinition, process_file: Path) -> list[StepFile]:
    """Every step's attachments, read from beside the process file; DefinitionError lists
    every name that is not bare and every file that is missing, too large or of a type not
    allowed."""
    base = process_file.parent
    files: list[StepFile] = []
    problems: list[Problem] = []
    for index, step in enumerate(definition.steps):
        if not isinstance(step, RequestStep):
            continue
        for j, name in enumerate(step.attachments):
            where = f"steps[{index}].attachments[{j}]"
            found = _read(base, name, step.id)
            if isinstance(found, str):
                problems.append(
                    Problem(str(process_file), where, f"{name!r} (step '{step.id}'): {found}")
                )
            else:
                files.append(found)
    if problems:
        raise DefinitionError(problems)
    return files


#: Said of every name that is not a bare file name, whatever is (or is not) on the disk.
NOT_BARE = (
    "give the bare name of a file beside the process file (no folder, '..', '~', absolute "
    "path, hidden file, control character or blank at either end)"
)


def bare_name_problem(name: str) -> str | None:
    """Why `name` is not a bare file name to look for beside the process file, or None.

    Decided by the text alone, never by the file system. A name must be its own last path
    component on POSIX and on Windows, and unchanged by Unicode NFC and by stripping blanks
    (two names that look alike must not name two files).
    """
    if (
        not name
        or "/" in name
        or "\\" in name
        or name in (".", "..")
        or name.startswith((".", "~"))
        or name != name.strip()
        or any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name)
        or unicodedata.normalize("NFC", name) != name
        or (len(name) > 1 and name[1] == ":")  # a Windows drive: C:oppdrag.pdf
    ):
        return NOT_BARE
    return None


def _read(base: Path, name: str, step_id: str) -> StepFile | str:
    """The file, or why it cannot be attached."""
    problem = bare_name_problem(name)
    if problem:
        return problem
    suffix = Path(name).suffix.lower()
    content_type = TYPES.get(suffix)
    if content_type is None:
        allowed = ", ".join(sorted(TYPES))
        return f"files of type {suffix or '(no extension)'} cannot be attached (allowed: {allowed})"
    path = base / name
    try:
        # A link may point only at a file in the same folder; where it points is judged by
        # the link's text, so a link out of the folder is refused whether its target exists.
        if path.is_symlink() and Path(os.path.realpath(path)).parent != Path(
            os.path.realpath(base)
        ):
            return NOT_BARE + "; a link to a file elsewhere is not taken"
        if not path.is_file():
            return "no such file beside the process file; put it there (or upload it with the file)"
        size = path.stat().st_size
        if size > MAX_ATTACHMENT_BYTES:
            return (
                f"the file is {size / 1024 / 1024:.1f} MB; attachments may be at most "
                f"{MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB (send a link to a large file instead)"
            )
        data = path.read_bytes()
    except OSError as exc:
        return f"cannot read the file: {exc}"
    problem = _content_problem(data, content_type, suffix)
    if problem:
        return problem
    return StepFile(step_id, name, content_type, data)


def _content_problem(data: bytes, content_type: str, suffix: str) -> str | None:
    if content_type.startswith("text/"):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return f"a {suffix} file must be UTF-8 text; save it as UTF-8"
        return None
    found, unsafe = inspect(data)
    if unsafe is not None:
        return f"the file {unsafe}"
    if found != content_type:
        return f"the content is not a {suffix} file (is it renamed?)"
    return None


def store_step_files(
    session: Session, definition: ProcessDefinition, files: list[StepFile], *, now: datetime
) -> list[str]:
    """Store new contents and point each step's links at them; say what changed."""
    from sqlmodel import col, select

    from innspill.models import FileContent, StepAttachment

    known = set(
        session.exec(
            select(FileContent.sha256).where(col(FileContent.sha256).in_({f.sha256 for f in files}))
        ).all()
    )
    for f in files:
        if f.sha256 not in known:
            session.add(
                FileContent(
                    sha256=f.sha256,
                    content_type=f.content_type,
                    size=len(f.data),
                    data=f.data,
                    created_at=now,
                )
            )
            known.add(f.sha256)
    session.flush()
    links = {
        (row.step_key, row.position): row
        for row in session.exec(
            select(StepAttachment).where(StepAttachment.process_id == definition.id)
        ).all()
    }
    changes: list[str] = []
    positions: dict[str, int] = {}
    for f in files:
        position = positions.get(f.step_id, 0)
        positions[f.step_id] = position + 1
        row = links.pop((f.step_id, position), None)
        if row is not None and (row.filename, row.sha256) == (f.filename, f.sha256):
            continue
        if row is None:
            row = StepAttachment(
                process_id=definition.id,
                step_key=f.step_id,
                position=position,
                filename=f.filename,
                sha256=f.sha256,
                loaded_at=now,
            )
            changes.append(f"attachment {f.filename} of {f.step_id}: added")
        else:
            changes.append(f"attachment {f.filename} of {f.step_id}: new content")
        row.filename, row.sha256, row.loaded_at = f.filename, f.sha256, now
        session.add(row)
    for row in links.values():
        changes.append(f"attachment {row.filename} of {row.step_key}: removed")
        session.delete(row)
    session.flush()
    return changes


def step_files(session: Session, process_id: str, step_ids: list[str]) -> list[StepFile]:
    """The current attachments of these steps, in the order of the steps and the file."""
    from sqlmodel import col, select

    from innspill.models import FileContent, StepAttachment

    rows = session.exec(
        select(StepAttachment, FileContent)
        .join(FileContent, col(FileContent.sha256) == col(StepAttachment.sha256))
        .where(
            StepAttachment.process_id == process_id,
            col(StepAttachment.step_key).in_(step_ids),
        )
        .order_by(col(StepAttachment.position))
    ).all()
    order = {step_id: n for n, step_id in enumerate(step_ids)}
    rows = sorted(rows, key=lambda r: (order[r[0].step_key], r[0].position))
    return [StepFile(link.step_key, link.filename, c.content_type, c.data) for link, c in rows]


def step_file_sizes(session: Session, process_id: str, step_id: str) -> list[tuple[str, int]]:
    """The name and size of each current attachment of a step, in order (without the bytes)."""
    from sqlmodel import col, select

    from innspill.models import FileContent, StepAttachment

    return [
        (name, size)
        for name, size in session.exec(
            select(StepAttachment.filename, FileContent.size)
            .join(FileContent, col(FileContent.sha256) == col(StepAttachment.sha256))
            .where(StepAttachment.process_id == process_id, StepAttachment.step_key == step_id)
            .order_by(col(StepAttachment.position))
        ).all()
    ]
