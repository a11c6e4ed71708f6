"""The whole extract of one process, into a folder (`innspill archive export`) or a ZIP (the
dashboard's download): the documents under `dokumenter/` (each checked against the checksum
on record as it is written), the four XML files, the official schemas unchanged, and
arkivuttrekk.xml with the SHA-256 of each and the counts."""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from importlib.resources import as_file, files
from pathlib import Path
from typing import IO, Protocol

from sqlmodel import Session

import innspill
from innspill.errors import ExportRefused, InnspillError
from innspill.i18n import N_
from innspill.models import Process
from innspill.noark.addml import Facts, arkivuttrekk
from innspill.noark.changelog import closing, deadline_changes, dispatches, endringslogg
from innspill.noark.checks import Reason, refusals
from innspill.noark.journals import journal
from innspill.noark.records import FileObject, Post, load_file, read_posts
from innspill.noark.remarks import remarks
from innspill.noark.structure import Case, arkivstruktur
from innspill.process.definition import ProcessDefinition
from innspill.process.loading import get_definition

#: The official schemas, in the order arkivuttrekk.xml lists them.
SCHEMAS = (
    "arkivstruktur.xsd",
    "metadatakatalog.xsd",
    "endringslogg.xsd",
    "loependeJournal.xsd",
    "offentligJournal.xsd",
    "addml.xsd",
)
Progress = Callable[[int, int], None]
#: Each XML file and the schema it must be valid against.
SCHEMA_OF = {
    "arkivuttrekk.xml": "addml.xsd",
    "arkivstruktur.xml": "arkivstruktur.xsd",
    "endringslogg.xml": "endringslogg.xsd",
    "loependeJournal.xml": "loependeJournal.xsd",
    "offentligJournal.xml": "offentligJournal.xsd",
}


class InvalidExtract(InnspillError):
    """An XML file the exporter made is not valid against its schema: a bug, never shipped."""


def valid(name: str, data: bytes) -> None:
    """Raise InvalidExtract unless `data` is valid against the official schema of `name`."""
    from lxml import etree

    with as_file(files("innspill.noark").joinpath("schemas", SCHEMA_OF[name])) as path:
        schema = etree.XMLSchema(etree.parse(str(path)))
    document = etree.fromstring(data)
    if not schema.validate(document):
        errors = "; ".join(f"line {e.line}: {e.message}" for e in list(schema.error_log)[:3])
        raise InvalidExtract(f"{name} is not valid against {SCHEMA_OF[name]}: {errors}")


class FileMismatch(InnspillError):
    """A stored file is gone or no longer matches its checksum: the extract is incomplete."""


class Sink(Protocol):
    def write(self, path: str, data: bytes) -> None: ...


class FolderSink:
    """Files under a folder that is new or empty."""

    def __init__(self, root: Path) -> None:
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise FileExistsError(f"{root} exists and is not an empty folder")
        self.created = not root.exists()  # so a refused export leaves no folder it made
        root.mkdir(parents=True, exist_ok=True)
        self.root = root

    def write(self, path: str, data: bytes) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


class ZipSink:
    """Files in a ZIP under one folder named for the process (what an unpacked download is)."""

    def __init__(self, out: IO[bytes], folder: str) -> None:
        self.out = out
        self.folder = folder
        self.zip: zipfile.ZipFile | None = None  # opened by the first file: a refusal writes none

    def write(self, path: str, data: bytes) -> None:
        if self.zip is None:
            self.zip = zipfile.ZipFile(self.out, "w", compression=zipfile.ZIP_DEFLATED)
        # PDFs hardly compress: stored, to spare the CPU.
        kind = zipfile.ZIP_STORED if path.endswith(".pdf") else zipfile.ZIP_DEFLATED
        self.zip.writestr(f"{self.folder}/{path}", data, compress_type=kind)

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()


@dataclass
class Report:
    process_id: str
    posts: int
    documents: int  # files under dokumenter/
    changes: int
    partial_reasons: list[str] = field(default_factory=list)  # what a partial extract lacks


def schema_bytes(name: str) -> bytes:
    return files("innspill.noark").joinpath("schemas", name).read_bytes()


def _case(
    session: Session,
    definition: ProcessDefinition,
    posts: list[Post],
    *,
    now: datetime,
    by: str,
    partial: bool,
) -> Case:
    archive = definition.archive
    assert archive is not None
    row = session.get(Process, definition.id)
    dates = [p.entry.journal_date for p in posts]
    return Case(
        process_id=definition.id,
        title=row.title if row is not None else definition.id,
        reference=definition.process.reference,
        creator=archive.creator,
        organisation_number=archive.organisation_number,
        class_code=archive.class_code,
        unit=definition.sender.unit,
        case_officer=definition.sender.case_officer,
        created=min(p.entry.registered_at for p in posts),
        closed=now,
        by=by,
        partial=partial,
        first_date=min(dates),
        last_date=max(dates),
    )


def export(
    session: Session,
    process_id: str,
    sink: Sink,
    *,
    now: datetime,
    by: str = "innspill",
    partial: bool = False,
    progress: Progress | None = None,
) -> Report:
    """Write the extract of `process_id` to `sink`; ExportRefused (with every reason) when
    the process is not ready, unless `partial`. Nothing is written before that check."""
    definition = get_definition(session, process_id)
    if definition.archive is None:
        raise ExportRefused(
            definition.id,
            [
                Reason(
                    "it keeps no journal numbers (no [archive] section): nothing to export",
                    N_("Prosessen fører ikke journal (prosessfilen har ingen [archive]-del)."),
                )
            ],
        )
    posts = read_posts(session, definition.id)
    if not posts:
        raise ExportRefused(
            definition.id,
            [
                Reason(
                    "it has no journal entries yet", N_("Prosessen har ingen journalposter ennå.")
                )
            ],
        )
    reasons: list[str] = list(refusals(session, definition, posts, now))
    if reasons and not partial:
        raise ExportRefused(definition.id, reasons)
    case = _case(session, definition, posts, now=now, by=by, partial=bool(reasons))
    changes, dues = deadline_changes(session, case, posts)
    if not case.partial:
        changes.append(closing(case))
    if not changes:
        changes = dispatches(case, posts) or [closing(case)]

    # The XML first, each checked against its schema before any file is written.
    xml = {
        "arkivstruktur.xml": arkivstruktur(case, posts, dues, remarks(session, definition.id)),
        "endringslogg.xml": endringslogg(changes),
        "loependeJournal.xml": journal(case, posts, public=False),
        "offentligJournal.xml": journal(case, posts, public=True),
    }
    for name, data in xml.items():
        valid(name, data)
    checksums = {name: hashlib.sha256(data).hexdigest() for name, data in xml.items()}
    schemas = {name: schema_bytes(name) for name in SCHEMAS}
    checksums |= {name: hashlib.sha256(data).hexdigest() for name, data in schemas.items()}
    by_path = _unique_files(posts)
    facts = Facts(
        creator=case.creator,
        system=f"innspill {innspill.__version__}",
        archive=f"{case.creator}: {case.title}",
        start=case.first_date,
        end=case.last_date,
        screened=any(p.entry.public_title for p in posts),
        document_files=len(by_path),
        checksums=checksums,
        counts={
            ("mappe", "arkivstruktur.xml"): 1,
            ("registrering", "arkivstruktur.xml"): len(posts),
            ("endring", "endringslogg.xml"): len(changes),
            ("journalregistrering", "loependeJournal.xml"): len(posts),
            ("journalregistrering", "offentligJournal.xml"): len(posts),
        },
    )
    summary = arkivuttrekk(facts)
    valid("arkivuttrekk.xml", summary)

    _write_documents(session, by_path, sink, progress)
    for name, data in (xml | schemas).items():
        sink.write(name, data)
    sink.write("arkivuttrekk.xml", summary)
    documents = len(by_path)
    return Report(definition.id, len(posts), documents, len(changes), reasons)


def _unique_files(posts: list[Post]) -> dict[str, FileObject]:
    """Each file once, by its path (a file sent in many letters is one file)."""
    unique: dict[str, FileObject] = {}
    for post in posts:
        for doc in post.documents:
            for obj in doc.objects:
                unique.setdefault(obj.path, obj)
    return unique


def _write_documents(
    session: Session, unique: dict[str, FileObject], sink: Sink, progress: Progress | None
) -> None:
    """The documents, each checked against its checksum on record as it is written."""
    total = len(unique)
    for n, (path, obj) in enumerate(unique.items(), start=1):
        try:
            data = load_file(session, obj)
        except LookupError as exc:
            raise FileMismatch(f"{path}: {exc}; the extract is incomplete") from None
        if hashlib.sha256(data).hexdigest() != obj.sha256 or len(data) != obj.size:
            raise FileMismatch(
                f"{path}: the stored file no longer matches its checksum on record; the extract "
                "is incomplete"
            )
        sink.write(path, data)
        if progress is not None:
            progress(n, total)
