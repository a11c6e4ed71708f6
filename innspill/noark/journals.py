"""loependeJournal.xml and offentligJournal.xml: the same journalposter, sorted by journalår
and løpenummer; the public one without addresses and with the public title where a title is
screened. Only the elements of v5.0 before its 2023 maintenance, which Arkade's copies know."""

from __future__ import annotations

from lxml import etree

from innspill.noark.elements import Builder, serialize
from innspill.noark.records import Post
from innspill.noark.structure import UNTITLED, Case, parties

RUNNING = "http://www.arkivverket.no/standarder/noark5/loependeJournal"
PUBLIC = "http://www.arkivverket.no/standarder/noark5/offentligJournal"


def _head(b: Builder, root: etree._Element, case: Case, posts: list[Post]) -> None:
    head = b.add(root, "journalhode")
    dates = [p.entry.journal_date for p in posts]
    b.fields(
        head,
        ("journalStartDato", min(dates)),
        ("journalSluttDato", max(dates)),
        ("antallJournalposter", len(posts)),
    )
    creator = b.add(head, "arkivskaper")
    b.fields(
        creator,
        ("arkivskaperID", case.organisation_number),
        ("arkivskaperNavn", case.creator),
    )


def journal(case: Case, posts: list[Post], *, public: bool) -> bytes:
    """The running journal (`public` False) or the public journal of the extract's posts."""
    b = Builder(PUBLIC if public else RUNNING)
    name = "offentligJournal" if public else "loependeJournal"
    root = b.root(name, f"{name}.xsd")
    ordered = sorted(posts, key=lambda p: (p.entry.year, p.entry.sequence))
    _head(b, root, case, ordered)
    for post in ordered:
        e = post.entry
        line = b.add(root, "journalregistrering")
        if case.class_code:
            b.fields(
                b.add(line, "klasse"), ("klasseID", case.class_code), ("tittel", case.class_code)
            )
        folder = b.add(line, "saksmappe")
        b.fields(folder, ("saksaar", case.year), ("sakssekvensnummer", case.sequence))
        b.fields(folder, ("offentligTittel" if public else "tittel", case.title))
        node = b.add(line, "journalpost")
        b.fields(
            node,
            ("systemID", case.id("journalpost", e.source, e.source_key)),
            ("journalaar", e.year),
            ("journalsekvensnummer", e.sequence),
            ("journalpostnummer", e.document_number),
        )
        if public:
            b.fields(node, ("offentligTittel", e.shown_title.strip() or UNTITLED))
        else:
            title = e.title.strip() or UNTITLED
            b.fields(node, ("tittel", title), ("offentligTittel", e.public_title))
        b.fields(node, ("journaldato", e.journal_date), ("dokumentetsDato", e.document_date))
        for kind, name, _ in parties(post):
            party = b.add(node, "korrespondansepart")
            b.fields(party, ("korrespondanseparttype", kind), ("korrespondansepartNavn", name))
    return serialize(root)
