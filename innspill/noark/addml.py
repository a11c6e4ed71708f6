"""arkivuttrekk.xml (ADDML 8.3) filled in from Arkivverket's own Noark 5 template
(`arkivuttrekk-template.xml`, addml-standard maler/noark5.xml): the creator, the system, the
archive and its period, the facts about the extract, and for each XML file and schema its
SHA-256, and the counts Arkade compares (N5.10, N5.16, N5.28)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from importlib.resources import files

from lxml import etree

ADDML = "http://www.arkivverket.no/standarder/addml"
_CHECKSUM = re.compile(r"^Oppgi sjekksumverdi heksadesimalt for (\S+) her$")
_COUNT = re.compile(r"^Oppgi antall forekomster av (\S+) i (\S+) her$")
_FILES = "Oppgi antall dokumentfiler i arkivuttrekket her"


@dataclass(frozen=True)
class Facts:
    creator: str
    system: str  # innspill and its version
    archive: str  # the arkiv's title
    start: date
    end: date
    screened: bool  # inneholderSkjermetInformasjon
    document_files: int
    checksums: dict[str, str]  # file name -> SHA-256 (hex), XML files and schemas
    counts: dict[tuple[str, str], int]  # (element, file) -> occurrences


def template() -> bytes:
    return files("innspill.noark").joinpath("arkivuttrekk-template.xml").read_bytes()


def arkivuttrekk(facts: Facts) -> bytes:
    parser = etree.XMLParser(remove_comments=True, remove_blank_text=True)
    root = etree.fromstring(template(), parser)
    fixed = {
        "Arkivskaper A": facts.creator,
        "Sakarkiv (Noark-5)": "Fagsystem",
        "System X": facts.system,
        "Arkiv XYZ": facts.archive,
        "2014-01-01": facts.start.isoformat(),
        "2019-01-01": facts.end.isoformat(),
        "mykt/skarpt": "skarpt",  # the extract holds the whole case, cut at no date
        _FILES: str(facts.document_files),
    }
    booleans = {
        "inneholderSkjermetInformasjon": facts.screened,
        "omfatterDokumenterSomErKassert": False,
        "inneholderDokumenterSomSkalKasseres": False,
        "inneholderVirksomhetsspesifikkeMetadata": False,
    }
    for value in root.iter(f"{{{ADDML}}}value"):
        text = (value.text or "").strip()
        if text in fixed:
            value.text = fixed[text]
        elif text == "true/false":
            name = value.getparent().get("name") if value.getparent() is not None else None
            value.text = "true" if booleans.get(name or "", False) else "false"
        elif m := _CHECKSUM.match(text):
            value.text = facts.checksums[m.group(1)]
        elif m := _COUNT.match(text):
            value.text = str(facts.counts[(m.group(1), m.group(2))])
        elif text.startswith("Oppgi"):
            raise ValueError(f"the ADDML template asks for something unknown: {text}")
    etree.indent(root, space="  ")
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return data + b"\n"
