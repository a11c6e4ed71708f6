"""The demo's data folder: taken only when empty or marked, emptied of the demo's own files only."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from innspill.errors import DemoFolderRefused

#: Written into every folder the demo makes or takes; a folder without it is never emptied.
MARKER = ".innspill-demo"
DATABASE = "innspill.db"
#: SQLite's side files beside the database (journal, write-ahead log, shared memory).
DATABASE_FILES = (DATABASE, f"{DATABASE}-journal", f"{DATABASE}-wal", f"{DATABASE}-shm")
#: The key the demo's tokens were made with, so that `innspill dashboard` on the folder knows
#: the form links in the demo's mail (as expired: the round ended in 2020), not as forged.
KEY_FILE = "secret_key"
MAIL = "mail"
DOCUMENTS = "documents"
#: What the demo writes into its two subfolders; anything else there is someone else's.
MAIL_PATTERN = "*.eml"
DOCUMENT_PATTERNS = ("sammenstilling-*.docx", "sammenstilling-*.html")


@dataclass(frozen=True)
class DemoFolder:
    """Where one demo run writes: the database, the mail and the latest compilation."""

    root: Path

    @property
    def database_url(self) -> str:
        return f"sqlite:///{(self.root / DATABASE).resolve()}"

    @property
    def mail(self) -> Path:
        return self.root / MAIL

    @property
    def documents(self) -> Path:
        return self.root / DOCUMENTS

    def eml_files(self) -> int:
        return len(list(self.mail.glob(MAIL_PATTERN)))


def prepare(root: Path, *, secret: str) -> DemoFolder:
    """Make ROOT, or take it if empty or made by an earlier demo run (then remove that run's files).

    Refuses (DemoFolderRefused) a file, or a folder that has entries but no marker, without
    touching anything in it.
    """
    root = root.absolute()  # the closing lines print it for commands run from anywhere
    if root.exists() and not root.is_dir():
        raise DemoFolderRefused(
            f"{root} is a file, not a folder: give --data-dir a new or empty folder"
        )
    if root.is_dir() and any(root.iterdir()) and not (root / MARKER).is_file():
        raise DemoFolderRefused(
            f"{root} is not empty and was not made by the demo; nothing in it was touched: "
            "give --data-dir a new or empty folder"
        )
    root.mkdir(parents=True, exist_ok=True)
    _remove_earlier_run(root)
    (root / MARKER).write_text(
        "Made by `innspill demo`. A later demo run into this folder replaces the demo's own "
        "files (innspill.db, secret_key, mail/*.eml, documents/sammenstilling-*) and nothing "
        "else.\n",
        encoding="utf-8",
    )
    _write_secret(root / KEY_FILE, secret)
    return DemoFolder(root)


def _remove_earlier_run(root: Path) -> None:
    """Delete what a demo run writes, by name and pattern; files the user added stay."""
    for name in (*DATABASE_FILES, KEY_FILE, MARKER):
        path = root / name
        if path.is_file() or path.is_symlink():
            path.unlink()
    _empty(root / MAIL, (MAIL_PATTERN,))
    _empty(root / DOCUMENTS, DOCUMENT_PATTERNS)
    left = [name for name in (*DATABASE_FILES, KEY_FILE) if (root / name).exists()]
    if left:  # e.g. a folder of that name: the demo never made one, so it is not ours to delete
        raise DemoFolderRefused(
            f"{root} still holds {', '.join(left)} after removing the earlier demo run's files: "
            "move it away or give --data-dir a new or empty folder"
        )


def _empty(folder: Path, patterns: tuple[str, ...]) -> None:
    if folder.is_symlink():  # the demo never makes one: it may lead to someone's own files
        raise DemoFolderRefused(
            f"{folder} is a link the demo did not make: remove it or give --data-dir a new folder"
        )
    if not folder.is_dir():
        return
    for pattern in patterns:
        for path in folder.glob(pattern):
            if path.is_file():
                path.unlink()
    if not any(folder.iterdir()):
        folder.rmdir()


def _write_secret(path: Path, secret: str) -> None:
    # The same mode the settings give a key they make: readable by its owner only.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secret + "\n")


def remove_temporary(root: Path) -> None:
    """Delete a temporary folder the demo made itself (never one given with --data-dir)."""
    shutil.rmtree(root, ignore_errors=True)
