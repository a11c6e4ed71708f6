"""A check of a Noark 5 v5.0 extract written from the standard and Arkade 5's tests, not from
innspill's exporter (it must not import innspill.noark): what an archive receiving the folder
would run first. `check(folder)` returns what it found and every problem, one line each.

Covered (Arkade's numbers): N5.01/02 the files arkivuttrekk.xml lists exist with their
SHA-256; N5.03 each XML file valid against the schemas in the extract itself (never built-in
copies); N5.10/16/28 the counts in arkivuttrekk.xml; N5.29 format as the file's extension;
N5.30 each document's SHA-256 (and size); N5.32/33 every referenced file exists and every file
under dokumenter/ is referenced; N5.47 unique systemIDs; N5.48/51/62 references from the
journals and the change log; N5.59/60 the journals list the posts and dates of the structure;
N5.63 no empty elements; N5.64 no empty files.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

N5 = "http://www.arkivverket.no/standarder/noark5/"
ARKIV = N5 + "arkivstruktur"
ADDML = "http://www.arkivverket.no/standarder/addml"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
DOCUMENT_FOLDERS = ("dokumenter", "DOKUMENTER", "dokument", "DOKUMENT")  # Arkade's order
#: Each XML file of the extract and the schema it is validated against.
FILES = {
    "arkivuttrekk.xml": "addml.xsd",
    "arkivstruktur.xml": "arkivstruktur.xsd",
    "endringslogg.xml": "endringslogg.xsd",
    "loependeJournal.xml": "loependeJournal.xsd",
    "offentligJournal.xml": "offentligJournal.xsd",
}
REQUIRED = set(FILES)  # every extract with journalposter has all five


@dataclass
class Post:
    system_id: str
    number: int  # journalpostnummer
    year: int
    sequence: int
    kind: str  # journalposttype
    status: str
    title: str
    journal_date: str
    parties: list[tuple[str, str]]  # (type, name)
    documents: list[tuple[str, list[tuple[str, str]]]]  # (role, [(variant, file)])


@dataclass
class Found:
    problems: list[str] = field(default_factory=list)
    posts: list[Post] = field(default_factory=list)
    system_ids: list[str] = field(default_factory=list)
    files: dict[str, tuple[str, str]] = field(default_factory=dict)  # path -> (variant, format)
    changes: list[dict[str, str]] = field(default_factory=list)
    counts: dict[tuple[str, str], int] = field(default_factory=dict)  # from arkivuttrekk.xml


def local(element: etree._Element) -> str:
    return etree.QName(element).localname


def child_text(element: etree._Element, name: str) -> str | None:
    for child in element:
        if isinstance(child.tag, str) and local(child) == name:
            return child.text
    return None


def children(element: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in element if isinstance(c.tag, str) and local(c) == name]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _validate(folder: Path, found: Found) -> dict[str, etree._ElementTree]:
    trees = {}
    for name, schema_name in FILES.items():
        path = folder / name
        if not path.is_file():
            found.problems.append(f"{name} is missing")
            continue
        if path.stat().st_size == 0:
            found.problems.append(f"{name} is empty (N5.64)")
            continue
        schema = etree.XMLSchema(etree.parse(str(folder / schema_name)))
        tree = etree.parse(str(path))
        if not schema.validate(tree):
            for error in list(schema.error_log)[:5]:
                found.problems.append(f"{name}:{error.line}: {error.message} (N5.03)")
        for element in tree.iter():
            if (
                isinstance(element.tag, str)
                and len(element) == 0
                and not (element.text or "").strip()
            ):
                found.problems.append(f"{name}: empty element <{local(element)}> (N5.63)")
                break
        trees[name] = tree
    return trees


def _addml(folder: Path, tree: etree._ElementTree, found: Found) -> int | None:
    """The files arkivuttrekk.xml lists with their checksums, and its counts."""
    ns = {"a": ADDML}
    document_files = None
    for prop in tree.iterfind(".//a:property[@name='file']", ns):
        name = prop.findtext("a:properties/a:property[@name='name']/a:value", namespaces=ns)
        checksum = prop.find("a:properties/a:property[@name='checksum']", ns)
        if name is None:
            continue
        path = folder / name
        if not path.is_file():
            found.problems.append(f"arkivuttrekk.xml lists {name}, which is missing (N5.01)")
            continue
        if checksum is None:
            continue
        algorithm = checksum.findtext(".//a:property[@name='algorithm']/a:value", namespaces=ns)
        value = checksum.findtext(".//a:property[@name='value']/a:value", namespaces=ns)
        if algorithm != "SHA-256" or value != sha256(path):
            found.problems.append(f"{name}: checksum in arkivuttrekk.xml does not match (N5.02)")
    for dataobject in tree.iterfind(".//a:dataObject", ns):
        file_name = dataobject.findtext(
            "a:properties/a:property[@name='file']/a:properties/a:property[@name='name']/a:value",
            namespaces=ns,
        )
        for occ in dataobject.iterfind(
            "a:properties/a:property[@name='info']/a:properties/"
            "a:property[@name='numberOfOccurrences']",
            ns,
        ):
            element = occ.findtext("a:value", namespaces=ns)
            value = occ.findtext(".//a:property[@name='value']/a:value", namespaces=ns)
            if file_name and element and value is not None:
                found.counts[(element, file_name)] = int(value)
    files_value = tree.findtext(".//a:property[@name='antallDokumentfiler']/a:value", namespaces=ns)
    if files_value is not None:
        document_files = int(files_value)
    for prop in tree.iterfind(".//a:property[@name='type']", ns):
        if prop.findtext("a:value", namespaces=ns) == "Noark 5":
            version = prop.findtext(".//a:property[@name='version']/a:value", namespaces=ns)
            if version != "5.0":
                found.problems.append(f"arkivuttrekk.xml says Noark 5 version {version}, not 5.0")
    return document_files


def _structure(folder: Path, tree: etree._ElementTree, found: Found) -> None:
    for element in tree.iter(f"{{{ARKIV}}}systemID"):
        found.system_ids.append(element.text or "")
    for reg in tree.iter(f"{{{ARKIV}}}registrering"):
        if reg.get(XSI_TYPE) != "journalpost":
            continue
        documents = []
        for desc in children(reg, "dokumentbeskrivelse"):
            objects = []
            for obj in children(desc, "dokumentobjekt"):
                ref = child_text(obj, "referanseDokumentfil") or ""
                fmt = child_text(obj, "format") or ""
                variant = child_text(obj, "variantformat") or ""
                objects.append((variant, ref))
                _document_file(folder, obj, ref, fmt, found)
                found.files[ref] = (variant, fmt)
            documents.append((child_text(desc, "tilknyttetRegistreringSom") or "", objects))
        found.posts.append(
            Post(
                system_id=child_text(reg, "systemID") or "",
                number=int(child_text(reg, "journalpostnummer") or 0),
                year=int(child_text(reg, "journalaar") or 0),
                sequence=int(child_text(reg, "journalsekvensnummer") or 0),
                kind=child_text(reg, "journalposttype") or "",
                status=child_text(reg, "journalstatus") or "",
                title=child_text(reg, "tittel") or "",
                journal_date=child_text(reg, "journaldato") or "",
                parties=[
                    (
                        child_text(p, "korrespondanseparttype") or "",
                        child_text(p, "korrespondansepartNavn") or "",
                    )
                    for p in children(reg, "korrespondansepart")
                ],
                documents=documents,
            )
        )


def _document_file(folder: Path, obj: etree._Element, ref: str, fmt: str, found: Found) -> None:
    path = folder / ref
    if not path.is_file():
        found.problems.append(f"{ref} is referenced but missing (N5.32)")
        return
    if (child_text(obj, "sjekksumAlgoritme") or "").upper().replace("-", "") != "SHA256":
        found.problems.append(f"{ref}: checksum algorithm is not SHA-256")
    if child_text(obj, "sjekksum") != sha256(path):
        found.problems.append(f"{ref}: checksum does not match (N5.30)")
    if child_text(obj, "filstoerrelse") != str(path.stat().st_size):
        found.problems.append(f"{ref}: size does not match")
    if path.suffix.lstrip(".").lower() != fmt.lower():
        found.problems.append(f"{ref}: format {fmt} is not the file's extension (N5.29)")


def _journals(trees: dict[str, etree._ElementTree], found: Found) -> None:
    posts = {p.system_id: p for p in found.posts}
    for name in ("loependeJournal.xml", "offentligJournal.xml"):
        tree = trees.get(name)
        if tree is None:
            continue
        root = tree.getroot()
        listed = [
            child_text(j, "systemID") for j in root.iter(f"{{{root.nsmap[None]}}}journalpost")
        ]
        if sorted(s or "" for s in listed) != sorted(posts):
            found.problems.append(
                f"{name} does not list the journalposter of arkivstruktur.xml (N5.59)"
            )
        head = children(root, "journalhode")[0]
        dates = sorted(p.journal_date for p in found.posts)
        if dates and (
            child_text(head, "journalStartDato"),
            child_text(head, "journalSluttDato"),
        ) != (
            dates[0],
            dates[-1],
        ):
            found.problems.append(f"{name}: journal dates differ from arkivstruktur.xml (N5.60)")
        if child_text(head, "antallJournalposter") != str(len(listed)):
            found.problems.append(f"{name}: antallJournalposter is not the number listed")
        found.counts.setdefault(("journalregistrering", name), -1)
        actual = len(children(root, "journalregistrering"))
        if found.counts[("journalregistrering", name)] != actual:
            found.problems.append(f"{name}: count in arkivuttrekk.xml is not {actual} (N5.28)")


def check(folder: Path) -> Found:
    found = Found()
    trees = _validate(folder, found)
    document_files = None
    if "arkivuttrekk.xml" in trees:
        document_files = _addml(folder, trees["arkivuttrekk.xml"], found)
    if "arkivstruktur.xml" in trees:
        tree = trees["arkivstruktur.xml"]
        _structure(folder, tree, found)
        for element in ("mappe", "registrering"):
            actual = sum(1 for _ in tree.iter(f"{{{ARKIV}}}{element}"))
            if found.counts.get((element, "arkivstruktur.xml")) != actual:
                found.problems.append(
                    f"arkivstruktur.xml: count of {element} is not {actual} (N5.10/16)"
                )
    if "endringslogg.xml" in trees:
        root = trees["endringslogg.xml"].getroot()
        for change in root:
            found.changes.append({local(c): c.text or "" for c in change})
        if found.counts.get(("endring", "endringslogg.xml")) != len(found.changes):
            found.problems.append("endringslogg.xml: count in arkivuttrekk.xml is wrong")
        ids = set(found.system_ids)
        for change in found.changes:
            if change.get("referanseArkivenhet") not in ids:
                found.problems.append(
                    f"endringslogg.xml refers to an unknown unit: {change} (N5.62)"
                )
    _journals(trees, found)
    if len(set(found.system_ids)) != len(found.system_ids):
        found.problems.append("systemIDs are not unique (N5.47)")
    folders = [folder / name for name in DOCUMENT_FOLDERS if (folder / name).is_dir()]
    on_disk = set()
    for docs in folders[:1]:
        on_disk = {p.relative_to(folder).as_posix() for p in docs.rglob("*") if p.is_file()}
    unreferenced = sorted(on_disk - set(found.files))
    if unreferenced:
        found.problems.append(
            f"{len(unreferenced)} files not referenced, e.g. {unreferenced[0]} (N5.33)"
        )
    if document_files is not None and document_files != len(on_disk):
        found.problems.append(f"antallDokumentfiler {document_files}, but {len(on_disk)} files")
    return found


if __name__ == "__main__":  # uv run python -m tests.noark_check DIR
    import sys

    result = check(Path(sys.argv[1]))
    print(
        f"{len(result.posts)} journalposter, {len(result.files)} files referenced, "
        f"{len(result.changes)} changes; {len(result.problems)} problem(s)"
    )
    for problem in result.problems:
        print(f"  {problem}")
    sys.exit(1 if result.problems else 0)
