"""An uploaded process file and the files it references, carried from the preview to the load.

The preview page holds the upload in a hidden field, signed with an HMAC of the dashboard's
secret key over the content, the signed-in user and the time of the preview. The load
verifies the signature before it reads anything: what is loaded is byte for byte what was
previewed, by the same user, within `MAX_AGE`; nothing has to be kept on the server between
the two requests (several dashboard processes can serve them). For either step the files are
written into a fresh temporary directory, which is always removed afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath, PureWindowsPath

from innspill.i18n import _
from innspill.process.attachments import bare_name_problem

#: A process file of 1,000 participants is about 200 KB; one of 8,000 about 1.4 MB.
MAX_PROCESS_FILE = 4 * 1024 * 1024
#: All files of one upload together (the hidden field carries them base64-encoded).
MAX_TOTAL = 15 * 1024 * 1024
MAX_FILES = 20
#: The longest the hidden field can be: the files base64-encoded, plus the names.
MAX_FIELD = MAX_TOTAL * 4 // 3 + 64 * 1024
MAX_AGE = timedelta(hours=2)
_CONTEXT = b"innspill load upload v1\0"


class BadUpload(Exception):
    """What is wrong with an upload, in bokmål for the page."""


@dataclass(frozen=True)
class Upload:
    """The process file's name and every file by its name (the process file included)."""

    process_file: str
    files: dict[str, bytes]

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        for name in sorted(self.files):
            digest.update(name.encode() + b"\0" + hashlib.sha256(self.files[name]).digest())
        return digest.hexdigest()


def safe_name(filename: str) -> str:
    """The file's own name (a browser may send a path), in Unicode NFC as a process file names
    it (a Mac may send "å" as "a" and a combining ring); refused if it could leave the folder
    or is not a name a process file can give (`innspill.process.attachments.bare_name_problem`).
    """
    name = PureWindowsPath(PurePosixPath(filename).name).name.strip()
    name = unicodedata.normalize("NFC", name)
    if not name or bare_name_problem(name):
        raise BadUpload(
            _("Filnavnet «%(name)s» kan ikke brukes. Gi filen et vanlig navn.", name=filename)
        )
    return name


def build(process_file: tuple[str, bytes], attachments: list[tuple[str, bytes]]) -> Upload:
    """An upload from the form's files, checked for size, count and clashing names."""
    name, data = process_file
    name = safe_name(name)
    if not name.lower().endswith(".toml"):
        raise BadUpload(
            _("«%(name)s» er ikke en prosessfil. Velg en fil som slutter på .toml.", name=name)
        )
    if len(data) > MAX_PROCESS_FILE:
        limit = MAX_PROCESS_FILE // (1024 * 1024)
        raise BadUpload(
            _("«%(name)s» er større enn %(mb)s MB. Er det riktig fil?", name=name, mb=limit)
        )
    if len(attachments) > MAX_FILES:
        raise BadUpload(_("Du kan laste opp høyst %(n)s vedlegg om gangen.", n=MAX_FILES))
    files = {name: data}
    for other, content in attachments:
        other = safe_name(other)
        if other in files:
            raise BadUpload(
                _(
                    "Det er to filer med navnet «%(name)s». Hver fil må ha sitt eget navn.",
                    name=other,
                )
            )
        files[other] = content
    if sum(len(d) for d in files.values()) > MAX_TOTAL:
        raise BadUpload(
            _("Filene er til sammen større enn %(mb)s MB.", mb=MAX_TOTAL // 1024 // 1024)
        )
    return Upload(name, files)


def _mac(key: str, payload: str, *, user: str) -> str:
    message = _CONTEXT + user.encode() + b"\0" + payload.encode("ascii")
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def seal(upload: Upload, *, key: str, user: str, now: datetime) -> tuple[str, str]:
    """The hidden field's value and its signature."""
    content = {
        "issued": now.timestamp(),
        "process_file": upload.process_file,
        "files": {n: base64.b64encode(d).decode("ascii") for n, d in upload.files.items()},
    }
    payload = base64.urlsafe_b64encode(json.dumps(content).encode()).decode("ascii")
    return payload, _mac(key, payload, user=user)


def unseal(payload: str, signature: str, *, key: str, user: str, now: datetime) -> Upload:
    """The upload the preview showed; `BadUpload` if it was changed, is someone else's, or
    is too old."""
    try:
        expected = _mac(key, payload, user=user)
    except UnicodeEncodeError:
        expected = ""
    if not expected or not hmac.compare_digest(expected, signature):
        raise BadUpload(
            _(
                "Opplastingen kunne ikke bekreftes (den er endret, eller kontrollert av en annen "
                "bruker). Last opp filen på nytt."
            )
        )
    content = json.loads(base64.urlsafe_b64decode(payload))
    issued = datetime.fromtimestamp(float(content["issued"]), tz=now.tzinfo)
    if not timedelta(0) <= now - issued <= MAX_AGE:
        raise BadUpload(_("Kontrollen er for gammel (over to timer). Last opp filen på nytt."))
    files = {str(n): base64.b64decode(d) for n, d in content["files"].items()}
    return Upload(str(content["process_file"]), files)


@contextmanager
def written(upload: Upload) -> Iterator[Path]:
    """The upload's files in a fresh temporary directory (removed on leaving, whatever
    happens); yields the process file's path."""
    with tempfile.TemporaryDirectory(prefix="innspill-upload-") as folder:
        base = Path(folder)
        for name, data in upload.files.items():
            (base / name).write_bytes(data)
        yield base / upload.process_file
