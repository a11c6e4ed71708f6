"""Which PDF/A a PDF claims to be, and whether it keeps what PDF/A-2b asks that we can check.

Read with pikepdf (qpdf): the XMP identification (pdfaid:part and pdfaid:conformance), the
output intent, and that every font the pages use is embedded. A full validation (veraPDF)
checks far more; these are the properties a conversion most often gets wrong.
"""

from __future__ import annotations

import io
from typing import Any

#: PRONOM identifiers of the PDF/A flavours (the standard asks for PRONOM codes in
#: dokumentobjekt/format; see ../shared/noark5/README.md).
PRONOM = {
    "PDF/A-1a": "fmt/95",
    "PDF/A-1b": "fmt/354",
    "PDF/A-2a": "fmt/476",
    "PDF/A-2b": "fmt/477",
    "PDF/A-2u": "fmt/478",
    "PDF/A-3a": "fmt/479",
    "PDF/A-3b": "fmt/480",
    "PDF/A-3u": "fmt/481",
}
#: What Arkivverket takes without a remark or an application: PDF/A-1 and PDF/A-2.
ACCEPTED = {name for name in PRONOM if name.startswith(("PDF/A-1", "PDF/A-2"))}

_PDFAID = "{http://www.aiim.org/pdfa/ns/id/}"


def claimed(data: bytes) -> str | None:
    """The PDF/A flavour the file's XMP metadata names (e.g. "PDF/A-2b"), or None."""
    import pikepdf

    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            return _claimed(pdf)
    except (pikepdf.PdfError, ValueError, OSError):
        return None


def _claimed(pdf: Any) -> str | None:
    meta = pdf.open_metadata()
    part = str(meta.get(_PDFAID + "part", "")).strip()
    conformance = str(meta.get(_PDFAID + "conformance", "")).strip().lower()
    name = f"PDF/A-{part}{conformance}"
    return name if name in PRONOM else None


def pdfa_problems(data: bytes, *, expect: str = "PDF/A-2b") -> list[str]:
    """What keeps this PDF from being the PDF/A flavour `expect`; empty when nothing does."""
    import pikepdf

    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except (pikepdf.PdfError, ValueError, OSError) as exc:
        return [f"not a readable PDF ({exc})"]
    with pdf:
        problems = []
        name = _claimed(pdf)
        if name != expect:
            problems.append(f"identified as {name or 'no PDF/A'} (XMP pdfaid), not {expect}")
        if "/OutputIntents" not in pdf.Root or len(pdf.Root.OutputIntents) == 0:
            problems.append("no output intent (colour profile)")
        if pdf.is_encrypted:
            problems.append("encrypted")
        problems += [f"font not embedded: {font}" for font in sorted(_unembedded(pdf))]
        return problems


def _unembedded(pdf: Any) -> set[str]:
    """The names of the fonts the pages use without embedding them."""
    import pikepdf

    missing: set[str] = set()
    seen: set[tuple[int, int]] = set()
    for page in pdf.pages:
        resources = page.obj.get("/Resources")
        stack = [resources] if resources is not None else []
        while stack:
            res = stack.pop()
            for font in dict(res.get("/Font", {})).values():
                key = font.objgen
                if key in seen:
                    continue
                seen.add(key)
                if font.get("/Subtype") == "/Type3":
                    continue  # drawn with the PDF's own operators: nothing to embed
                if not _embedded(font):
                    missing.add(str(font.get("/BaseFont", "(unnamed)")).lstrip("/"))
            for xobject in dict(res.get("/XObject", {})).values():
                inner = xobject.get("/Resources")
                fresh = xobject.objgen not in seen
                if isinstance(xobject, pikepdf.Stream) and inner is not None and fresh:
                    seen.add(xobject.objgen)
                    stack.append(inner)
    return missing


def _embedded(font: Any) -> bool:
    descendants = font.get("/DescendantFonts")
    if descendants is not None:
        return all(_embedded(d) for d in descendants)
    descriptor = font.get("/FontDescriptor")
    if descriptor is None:
        return False
    return any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))
