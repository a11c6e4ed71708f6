"""Office files and plain PDFs to PDF/A-2b: LibreOffice for DOCX and ODT, Ghostscript for a PDF
that is not PDF/A. Each run is a child process with its own temporary folder (LibreOffice
with its own profile, so conversions in parallel do not share one) and a time limit."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from innspill.config.settings import Settings
from innspill.errors import ConversionFailed
from innspill.pdfa.identify import ACCEPTED, claimed, pdfa_problems

#: LibreOffice's PDF export as PDF/A-2 (SelectPdfVersion 2 is PDF/A-2b).
SOFFICE_FILTER = 'pdf:writer_pdf_Export:{"SelectPdfVersion":{"type":"long","value":"2"}}'

#: Ghostscript's PDF/A output needs the output intent written in PostScript (its own
#: lib/PDFA_def.ps is a template with a placeholder profile path).
_PDFA_DEF = """/ICCProfile ({icc}) def
[/_objdef {{icc_PDFA}} /type /stream /OBJ pdfmark
[{{icc_PDFA}} << /N 3 >> /PUT pdfmark
[{{icc_PDFA}} ICCProfile (r) file /PUT pdfmark
[/_objdef {{OutputIntent_PDFA}} /type /dict /OBJ pdfmark
[{{OutputIntent_PDFA}} << /Type /OutputIntent /S /GTS_PDFA1 /DestOutputProfile {{icc_PDFA}}
  /OutputConditionIdentifier (sRGB IEC61966-2.1) >> /PUT pdfmark
[{{Catalog}} << /OutputIntents [ {{OutputIntent_PDFA}} ] >> /PUT pdfmark
"""


@dataclass(frozen=True)
class Tools:
    """The programs that convert, and how long one conversion may take."""

    soffice: str = "soffice"
    ghostscript: str = "gs"
    timeout: float = 120.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Tools:
        return cls(
            soffice=settings.archive_soffice,
            ghostscript=settings.archive_ghostscript,
            timeout=settings.archive_timeout,
        )


@dataclass(frozen=True)
class Converted:
    """An archival copy, the tool that made it (None: the original already was PDF/A) and what
    was done, in words."""

    data: bytes
    format_name: str
    tool: str | None
    conversion: str


def office_to_pdfa(data: bytes, *, suffix: str, tools: Tools) -> Converted:
    """A DOCX or ODT as PDF/A-2b, converted by LibreOffice headless."""
    with tempfile.TemporaryDirectory(prefix="innspill-soffice-") as tmp:
        folder = Path(tmp)
        source = folder / f"dokument{suffix}"
        source.write_bytes(data)
        out = folder / "out"
        command = [
            tools.soffice,
            f"-env:UserInstallation={(folder / 'profile').as_uri()}",
            "--headless",
            "--norestore",
            "--nolockcheck",
            "--convert-to",
            SOFFICE_FILTER,
            "--outdir",
            str(out),
            str(source),
        ]
        _run(command, name="LibreOffice (soffice)", timeout=tools.timeout, cwd=folder)
        result = out / "dokument.pdf"
        if not result.is_file():
            raise ConversionFailed(
                f"LibreOffice could not convert the {suffix} file (no PDF came out; is it "
                "damaged or protected by a password?)"
            )
        pdf = result.read_bytes()
    _check(pdf, "LibreOffice")
    return Converted(pdf, "PDF/A-2b", producer(pdf) or "LibreOffice", f"{suffix} til PDF/A-2b")


def pdf_to_pdfa(data: bytes, *, tools: Tools) -> Converted:
    """A PDF as an archival copy: itself when it already is PDF/A-1 or PDF/A-2 and keeps its
    fonts embedded, else rewritten as PDF/A-2b by Ghostscript (the original is kept beside
    it as the production format)."""
    flavour = claimed(data)
    if flavour in ACCEPTED and not pdfa_problems(data, expect=flavour):
        return Converted(data, flavour, None, f"mottatt som {flavour}; ikke konvertert")
    from importlib.resources import files

    icc = files("weasyprint.pdf").joinpath("sRGB2014.icc")
    with tempfile.TemporaryDirectory(prefix="innspill-gs-") as tmp:
        folder = Path(tmp)
        profile = folder / "srgb.icc"
        profile.write_bytes(icc.read_bytes())
        definition = folder / "pdfa_def.ps"
        definition.write_text(_PDFA_DEF.format(icc=profile), encoding="ascii")
        source, result = folder / "in.pdf", folder / "out.pdf"
        source.write_bytes(data)
        command = [
            tools.ghostscript,
            "-q",
            "-dPDFA=2",
            "-dBATCH",
            "-dNOPAUSE",
            "-dSAFER",
            f"--permit-file-read={profile}",
            "-sColorConversionStrategy=RGB",
            "-sDEVICE=pdfwrite",
            "-dPDFACompatibilityPolicy=1",
            f"-sOutputFile={result}",
            str(definition),
            str(source),
        ]
        _run(command, name="Ghostscript (gs)", timeout=tools.timeout, cwd=folder)
        if not result.is_file() or result.stat().st_size == 0:
            raise ConversionFailed("Ghostscript could not read the PDF (is it damaged?)")
        pdf = result.read_bytes()
    _check(pdf, "Ghostscript")
    was = f"mottatt som {flavour}" if flavour else "mottatt som PDF (ikke PDF/A)"
    return Converted(pdf, "PDF/A-2b", producer(pdf) or "Ghostscript", f"{was}; til PDF/A-2b")


def producer(pdf: bytes) -> str | None:
    """The program (and version) that wrote a PDF, from its document information."""
    import pikepdf

    try:
        with pikepdf.open(io.BytesIO(pdf)) as doc:
            value = doc.docinfo.get("/Producer")
    except (pikepdf.PdfError, ValueError, OSError):
        return None
    if value is None:
        return None
    return str(value).strip()[:120] or None


def _check(pdf: bytes, tool: str) -> None:
    problems = pdfa_problems(pdf)
    if problems:
        raise ConversionFailed(f"{tool}'s output is not PDF/A-2b: " + "; ".join(problems))


def _run(command: list[str], *, name: str, timeout: float, cwd: Path) -> None:
    """Run a converter in its own process group, killed whole when it runs past `timeout`."""
    try:
        child = subprocess.Popen(  # noqa: S603  (a fixed program with file arguments)
            command,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise ConversionFailed(
            f"{name} is not installed on this machine ({command[0]} not found); install it "
            "(see docs/deploying.md), then `innspill archive convert --retry-failed`"
        ) from None
    try:
        output, _ = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        raise ConversionFailed(f"{name} took more than {timeout:.0f} s and was stopped") from None
    if child.returncode != 0:
        last = output.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        raise ConversionFailed(f"{name} failed (exit {child.returncode}): {last[0][:200]}")
