"""Office files and PDFs made for the archival tests: a participant's DOCX (python-docx, as
Word writes it), an ODT written by hand as the OpenDocument standard lays it out, PDFs."""

from __future__ import annotations

import io
import zipfile

ODT_MIME = "application/vnd.oasis.opendocument.text"


def docx_file(heading: str, text: str) -> bytes:
    import docx

    document = docx.Document()
    document.add_heading(heading, 1)
    document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def odt_file(text: str) -> bytes:
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f"<office:body><office:text><text:p>{text}</text:p></office:text></office:body>"
        "</office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"'
        ' manifest:version="1.2">'
        f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{ODT_MIME}"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), ODT_MIME)  # first and stored, as ODF asks
        archive.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("META-INF/manifest.xml", manifest, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def plain_pdf(text: str) -> bytes:
    """A PDF that is not PDF/A (WeasyPrint's default output)."""
    from weasyprint import HTML

    pdf = HTML(string=f"<h1>Innspill</h1><p>{text}</p>").write_pdf()
    assert isinstance(pdf, bytes)
    return pdf
