"""Hand-made hostile mail and ZIP bombs, for the intake tests and `bench.hostile_mail`."""

from __future__ import annotations

import base64
import io
import zipfile
from dataclasses import dataclass

MB = 1024 * 1024


def zip_bomb(*, total_mb: int, odt: bool = False) -> bytes:
    """A DOCX (or ODT) whose one big member unpacks to total_mb MB of zeros: a few hundred KB
    on disk at most. Written in 1 MB pieces, so building it needs no more memory than that."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        if odt:
            archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        archive.writestr("[Content_Types].xml", "<Types/>")
        name = "content.xml" if odt else "word/document.xml"
        with archive.open(name, "w", force_zip64=True) as member:
            for _ in range(total_mb):
                member.write(bytes(MB))
    return buffer.getvalue()


def docx() -> bytes:
    """A small document that is a DOCX by its content."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


@dataclass(frozen=True)
class Case:
    """One hostile message and what must become of it: an answer whose text holds `expect`,
    or held with `expect` in its reason."""

    name: str
    raw: bytes
    outcome: str  # "accepted" or "held"
    expect: str


def _head(to: str, sender: str, subject: str = "SV: innspill") -> str:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n"
        "Date: Thu, 02 Apr 2020 10:00:00 +0200\r\n"
    )


def _multipart(to: str, sender: str, body: str, *, extra: str = "") -> bytes:
    return (
        _head(to, sender) + extra + 'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + body
    ).encode("utf-8", "surrogateescape")


def _nested(levels: int, inner: bytes) -> bytes:
    body = inner
    for level in range(levels):
        body = (
            f'Content-Type: multipart/mixed; boundary="n{level}"\r\n\r\n--n{level}\r\n'.encode()
            + body
            + f"\r\n--n{level}--\r\n".encode()
        )
    return body


def _attachment(name: str, data: bytes) -> str:
    encoded = base64.encodebytes(data).decode().replace("\n", "\r\n")
    return (
        "--b\r\nContent-Type: application/octet-stream\r\n"
        f'Content-Disposition: attachment; filename="{name}"\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{encoded}"
    )


def hostile(to: str, sender: str) -> list[Case]:
    """About twenty hostile messages addressed to `to` (a reply address with a token)."""
    plain = "Content-Type: text/plain; charset=utf-8\r\n"
    text_part = "--b\r\n" + plain + "\r\n"
    many_parts = "".join(text_part + f"del {n}\r\n" for n in range(5_000)) + "--b--\r\n"
    deep = _head(to, sender).encode() + _nested(
        50, b"Content-Type: text/plain\r\n\r\nfra bunnen\r\n"
    )
    very_deep = _head(to, sender).encode() + _nested(3_000, b"x")
    bomb = zip_bomb(total_mb=101)
    return [
        Case(
            "encoded line break in the subject",
            (
                _head(to, sender, "=?UTF-8?Q?SV:_innspill=0D=0ABcc:_alle@evil.example?=")
                + plain
                + "\r\nInjeksjon i emnet.\r\n"
            ).encode(),
            "accepted",
            "Injeksjon i emnet.",
        ),
        Case(
            "RFC 2231 parameters on the text part",
            _multipart(
                to,
                sender,
                "--b\r\nContent-Type: text/plain; charset*=utf-8''utf-8; name*=utf-8''\r\n"
                "\r\nTekst med parametre.\r\n--b--\r\n",
            ),
            "accepted",
            "Tekst med parametre.",
        ),
        Case(
            "format=flowed; delsp=yes",
            (
                _head(to, sender)
                + "Content-Type: text/plain; charset=utf-8; format=flowed; delsp=yes\r\n"
                + "\r\nFlytende tekst.\r\n"
            ).encode(),
            "accepted",
            "Flytende tekst.",
        ),
        Case("5,000 MIME parts", _multipart(to, sender, many_parts), "held", "more than 200 MIME"),
        Case("nested 50 levels", deep, "held", "nested deeper than 20 levels"),
        Case("nested 3,000 levels", very_deep, "held", "RecursionError"),
        Case(
            "200,000 semicolons in Content-Type",
            (
                _head(to, sender)
                + "Content-Type: text/plain; charset=utf-8"
                + ";" * 200_000
                + "\r\n\r\nHei\r\n"
            ).encode(),
            "held",
            "header too long: Content-Type has 200,0",
        ),
        Case(
            "a parameter list the parser gives up on",
            (
                _head(to, sender) + 'Content-Type: multipart/mixed; boundary="b; x=\r\n\r\n'
                "--b\r\n" + plain + "\r\nforste bit\r\n--b\r\n" + plain + "\r\nandre bit\r\n"
                "--b--\r\n"
            ).encode(),
            "held",
            "broken MIME",
        ),
        Case(
            "a header line without a colon",
            (
                _head(to, sender) + "Dette er ingen header\r\n"
                'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
                + text_part
                + "Hei\r\n--b--\r\n"
            ).encode(),
            "held",
            "a header the parser gave up on (a line without a colon)",
        ),
        Case(
            "a multipart without a boundary",
            (_head(to, sender) + "Content-Type: multipart/mixed\r\n\r\n--x\r\nHei\r\n").encode(),
            "held",
            "a multipart without a boundary",
        ),
        Case(
            "an unterminated multipart",
            _multipart(to, sender, text_part + "Uavsluttet, men helt.\r\n"),
            "accepted",
            "Uavsluttet, men helt.",
        ),
        Case(
            "broken base64",
            (
                _head(to, sender)
                + plain
                + "Content-Transfer-Encoding: base64\r\n\r\n"
                + base64.b64encode("Ødelagt base64 i svaret.".encode()).decode()[:-3]
                + "!!*\r\n"
            ).encode(),
            "accepted",
            "Ødelagt base64",
        ),
        Case(
            "NUL bytes in the headers and the text",
            (_head(to, sender, "SV: inn\x00spill") + plain + "\r\nNUL\x00 i teksten.\r\n").encode(),
            "accepted",
            "i teksten.",
        ),
        Case(
            "one line of 2 MB",
            (_head(to, sender) + plain + "\r\nLang linje: " + "a" * (2 * MB) + "\r\n").encode(),
            "accepted",
            "Lang linje: aaaa",
        ),
        Case(
            "a wrong charset",
            (_head(to, sender) + "Content-Type: text/plain; charset=utf-16\r\n\r\n").encode()
            + "Blåbær og tyttebær.\r\n".encode("latin-1"),
            "accepted",
            "tyttebær",
        ),
        Case(
            "an unknown charset",
            (_head(to, sender) + 'Content-Type: text/plain; charset="x-mangled"\r\n\r\n').encode()
            + "Blåbær.\r\n".encode("cp1252"),
            "accepted",
            "Blåbær.",
        ),
        Case(
            "8-bit garbage in From and Subject",
            _head(to, sender, "SV: \udcff\udcfe svar").encode("utf-8", "surrogateescape")
            + (plain + "\r\nSvar med rusk i hodet.\r\n").encode(),
            "accepted",
            "Svar med rusk i hodet.",
        ),
        Case(
            "a ZIP bomb named .docx with text",
            _multipart(
                to, sender, text_part + "Se vedlegg.\r\n" + _attachment("svar.docx", bomb) + "--b--"
            ),
            "accepted",
            "Se vedlegg.",
        ),
        Case(
            "a ZIP bomb named .docx alone",
            _multipart(to, sender, _attachment("svar.docx", bomb) + "--b--"),
            "held",
            "svar.docx: unpacks to 101 MB (at most 100 MB): refused as unsafe",
        ),
        Case(
            "a PDF over 10 MB alone",
            _multipart(
                to, sender, _attachment("stor.pdf", b"%PDF-1.7\n" + bytes(11 * MB)) + "--b--"
            ),
            "held",
            "file refused: stor.pdf: too big",
        ),
        Case(
            "a forged DOCX among real ones",
            _multipart(
                to,
                sender,
                text_part
                + "To filer.\r\n"
                + _attachment("ekte.docx", docx())
                + _attachment("falsk.docx", b"PK\x03\x04 ikke en zip")
                + "--b--",
            ),
            "accepted",
            "To filer.",
        ),
    ]
