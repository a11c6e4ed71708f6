"""arkivstruktur.xml: arkiv, arkivdel, (klassifikasjonssystem, klasse,) one saksmappe, and a
journalpost per journal entry with its korrespondansepart, dokumentbeskrivelse and
dokumentobjekt; elements in the order of Arkivverket's arkivstruktur.xsd (v5.0)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from lxml import etree

from innspill.journal.read import DISPATCHED, NOT_DISPATCHED, WAITING, EntryView
from innspill.noark.elements import Builder, serialize
from innspill.noark.ids import system_id
from innspill.noark.records import Doc, FileObject, Post
from innspill.noark.remarks import Remark

NS = "http://www.arkivverket.no/standarder/noark5/arkivstruktur"
SYSTEM = "innspill"  # opprettetAv, arkivertAv where the engine did it
#: Noark's code lists (M082, M087) for innspill's journal codes.
POST_TYPES = {
    "I": "Inngående dokument",
    "U": "Utgående dokument",
    "X": "Organinternt dokument for oppfølging",
    "N": "Organinternt dokument uten oppfølging",
}
PARTY_TYPES = {"recipient": "Mottaker", "sender": "Avsender", "internal_sender": "Intern avsender"}
UNKNOWN, UNTITLED = "(ukjent)", "(uten tittel)"  # a mandatory text the record lacks
INTERNAL_RECIPIENT = "Intern mottaker"
FINISHED = "Dokumentet er ferdigstilt"
CHECKSUM_ALGORITHM = "SHA256"  # M706, as Arkade computes it


@dataclass(frozen=True)
class Case:
    """The extract's frame: whose archive, which case, and when it was closed by whom."""

    process_id: str
    title: str
    reference: str  # 20/64758
    creator: str  # arkivskaperNavn
    organisation_number: str  # arkivskaperID
    class_code: str | None
    unit: str  # administrativEnhet
    case_officer: str  # saksansvarlig
    created: datetime  # the first journal entry
    closed: datetime  # the export
    by: str  # who exported (avsluttetAv)
    partial: bool
    first_date: date
    last_date: date

    @property
    def year(self) -> int:
        """saksaar from the case number's two digits (20/64758: 2020; 99/1234: 1999, a year
        after the case was opened being impossible)."""
        year = 2000 + int(self.reference.split("/")[0])
        return year if year <= self.created.year else year - 100

    @property
    def sequence(self) -> int:
        return int(self.reference.split("/")[1])

    def id(self, kind: str, *key: str | int) -> str:
        return system_id(kind, self.organisation_number, self.process_id, *key)


def parties(post: Post) -> list[tuple[str, str, str]]:
    """The post's korrespondanseparter (type, name, address): its correspondent, then the
    internal recipients of a compilation."""
    e = post.entry
    name = e.correspondent_name.strip() or e.correspondent_address or UNKNOWN
    out = [(PARTY_TYPES[e.correspondent_role], name, e.correspondent_address)]
    out += [(INTERNAL_RECIPIENT, name, address) for name, address in post.internal]
    return out


def journal_status(post: Post) -> str:
    """M053: «Arkivert» when the post and its documents are on the record; a letter never
    dispatched «Utgår»; in a partial extract a post still waiting «Journalført»."""
    if post.entry.dispatch == NOT_DISPATCHED:
        return "Utgår"
    if post.entry.dispatch == WAITING or any(d.missing for d in post.documents):
        return "Journalført"
    return "Arkivert"


def archived_at(post: Post) -> datetime:
    """When the post was archived: its last file made, or when it was registered."""
    made = [o.created for d in post.documents for o in d.objects]
    return max([post.entry.registered_at, *made])


def arkivstruktur(
    case: Case, posts: list[Post], dues: Mapping[str, date], notes: Sequence[Remark] = ()
) -> bytes:
    """The structure; `dues` holds the forfallsdato of letters whose deadline was changed
    since (the change is in endringslogg.xml), `notes` the case's remarks."""
    b = Builder(NS)
    root = b.root("arkiv", "arkivstruktur.xsd")
    b.fields(
        root,
        ("systemID", case.id("arkiv")),
        ("tittel", f"{case.creator}: {case.title}"),
        ("opprettetDato", case.created),
        ("opprettetAv", SYSTEM),
        ("avsluttetDato", case.closed),
        ("avsluttetAv", case.by),
    )
    creator = b.add(root, "arkivskaper")
    b.fields(
        creator,
        ("arkivskaperID", case.organisation_number),
        ("arkivskaperNavn", case.creator),
    )
    part = b.add(root, "arkivdel")
    b.fields(
        part,
        ("systemID", case.id("arkivdel")),
        ("tittel", f"{case.reference} {case.title}"),
        ("arkivdelstatus", "Aktiv periode" if case.partial else "Avsluttet periode"),
        ("opprettetDato", case.created),
        ("opprettetAv", SYSTEM),
        ("avsluttetDato", case.closed),
        ("avsluttetAv", case.by),
        ("arkivperiodeStartDato", case.first_date),
        ("arkivperiodeSluttDato", case.last_date),
    )
    parent = part
    if case.class_code:
        system = b.add(part, "klassifikasjonssystem")
        b.fields(
            system,
            ("systemID", case.id("klassifikasjonssystem")),
            ("tittel", f"Arkivnøkkel til {case.creator}"),
            ("opprettetDato", case.created),
            ("opprettetAv", SYSTEM),
        )
        parent = b.add(system, "klasse")
        b.fields(
            parent,
            ("systemID", case.id("klasse", case.class_code)),
            ("klasseID", case.class_code),
            ("tittel", case.class_code),
            ("opprettetDato", case.created),
            ("opprettetAv", SYSTEM),
        )
    _saksmappe(b, parent, case, posts, dues, notes)
    return serialize(root)


def _saksmappe(
    b: Builder,
    parent: etree._Element,
    case: Case,
    posts: list[Post],
    dues: Mapping[str, date],
    notes: Sequence[Remark],
) -> None:
    folder = b.typed(parent, "mappe", "saksmappe")
    b.fields(
        folder,
        ("systemID", case.id("saksmappe")),
        ("mappeID", case.reference),
        ("tittel", case.title),
        ("opprettetDato", case.created),
        ("opprettetAv", SYSTEM),
        ("avsluttetDato", case.closed),
        ("avsluttetAv", case.by),
    )
    for remark in notes:
        note = b.add(folder, "merknad")
        b.fields(
            note,
            ("merknadstekst", remark.text),
            ("merknadstype", remark.kind),
            ("merknadsdato", remark.at),
            ("merknadRegistrertAv", remark.by),
        )
    for post in posts:
        _journalpost(b, folder, case, post, dues.get(post.entry.source_key))
    b.fields(
        folder,
        ("saksaar", case.year),
        ("sakssekvensnummer", case.sequence),
        ("saksdato", case.first_date),
        ("administrativEnhet", case.unit),
        ("saksansvarlig", case.case_officer),
        ("saksstatus", "Under behandling" if case.partial else "Avsluttet"),
    )


def _journalpost(
    b: Builder, parent: etree._Element, case: Case, post: Post, due: date | None
) -> None:
    e = post.entry
    key = (e.source, e.source_key)
    node = b.typed(parent, "registrering", "journalpost")
    b.fields(
        node,
        ("systemID", case.id("journalpost", *key)),
        ("opprettetDato", e.registered_at),
        ("opprettetAv", e.registered_by or SYSTEM),
        ("arkivertDato", archived_at(post)),
        ("arkivertAv", SYSTEM),
    )
    for number, doc in enumerate(post.documents, start=1):
        _dokumentbeskrivelse(b, node, case, key, number, doc)
    b.fields(node, ("tittel", e.title.strip() or UNTITLED), ("offentligTittel", e.public_title))
    if e.dispatch == NOT_DISPATCHED:
        _merknad(b, node, f"Ikke ekspedert: {e.error or 'avvist av e-posttjeneren'}", e)
    for doc in post.documents:
        if doc.missing:
            _merknad(b, node, f"Mangler arkivformat for «{doc.title}»: {doc.missing}", e)
    for kind, name, address in parties(post):
        party = b.add(node, "korrespondansepart")
        b.fields(
            party,
            ("korrespondanseparttype", kind),
            ("korrespondansepartNavn", name),
            ("epostadresse", address),
        )
    b.fields(
        node,
        ("journalaar", e.year),
        ("journalsekvensnummer", e.sequence),
        ("journalpostnummer", e.document_number),
        ("journalposttype", POST_TYPES[e.entry_type]),
        ("journalstatus", journal_status(post)),
        ("journaldato", e.journal_date),
        ("dokumentetsDato", e.document_date),
        ("mottattDato", e.received_at),
        ("sendtDato", e.sent_at if e.dispatch == DISPATCHED else None),
        ("forfallsdato", due or e.due),
    )


def _merknad(b: Builder, parent: etree._Element, text: str, e: EntryView) -> None:
    note = b.add(parent, "merknad")
    b.fields(
        note,
        ("merknadstekst", text),
        ("merknadsdato", e.registered_at),
        ("merknadRegistrertAv", SYSTEM),
    )


def _dokumentbeskrivelse(
    b: Builder, parent: etree._Element, case: Case, key: tuple[str, str], number: int, doc: Doc
) -> None:
    node = b.add(parent, "dokumentbeskrivelse")
    b.fields(
        node,
        ("systemID", case.id("dokumentbeskrivelse", *key, doc.key)),
        ("dokumenttype", doc.doctype),
        ("dokumentstatus", FINISHED),
        ("tittel", doc.title.strip() or UNTITLED),
        ("opprettetDato", doc.created),
        ("opprettetAv", doc.created_by),
        ("tilknyttetRegistreringSom", doc.role),
        ("dokumentnummer", number),
        ("tilknyttetDato", doc.created),
        ("tilknyttetAv", doc.created_by),
    )
    for obj in doc.objects:
        _dokumentobjekt(b, node, case.id("dokumentobjekt", *key, doc.key, obj.variant), obj)


def _dokumentobjekt(b: Builder, parent: etree._Element, sid: str, obj: FileObject) -> None:
    node = b.add(parent, "dokumentobjekt")
    b.fields(
        node,
        ("systemID", sid),
        ("versjonsnummer", 1),
        ("variantformat", obj.variant),
        ("format", obj.extension),
        ("formatDetaljer", obj.details),
        ("opprettetDato", obj.created),
        ("opprettetAv", SYSTEM),
        ("referanseDokumentfil", obj.path),
        ("sjekksum", obj.sha256),
        ("sjekksumAlgoritme", CHECKSUM_ALGORITHM),
        ("filstoerrelse", obj.size),
    )
    c = obj.conversion
    if c is not None:
        conversion = b.add(node, "konvertering")
        b.fields(
            conversion,
            ("konvertertDato", c.at),
            ("konvertertAv", SYSTEM),
            ("konvertertFraFormat", c.from_format),
            ("konvertertTilFormat", c.to_format),
            ("konverteringsverktoey", c.tool),
            ("konverteringskommentar", c.comment),
        )
