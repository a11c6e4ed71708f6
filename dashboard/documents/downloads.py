"""File responses: every download is an attachment, its type stated and never sniffed."""

from __future__ import annotations

import re
from urllib.parse import quote

from starlette.responses import Response

#: Served from a route of its own into `<iframe sandbox>`: can run, load and submit nothing.
SANDBOX_CSP = "sandbox; default-src 'none'; frame-ancestors 'self'"
OCTET = "application/octet-stream"


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the real one in RFC 5987 form."""
    fallback = re.sub(r"[^A-Za-z0-9._-]+", "_", filename).strip("_") or "fil"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def download(data: bytes, filename: str, content_type: str = OCTET) -> Response:
    """The bytes as a file to save, under their own type (or octet-stream for mail parts)."""
    return Response(
        content=data,
        media_type=content_type,
        headers={
            "Content-Disposition": content_disposition(filename),
            "X-Content-Type-Options": "nosniff",
        },
    )


def sandboxed(document: str) -> Response:
    """An inert HTML document for an `<iframe sandbox>` on a page of this site."""
    return Response(
        content=document,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": SANDBOX_CSP,
            "X-Frame-Options": "SAMEORIGIN",
            "X-Content-Type-Options": "nosniff",
        },
    )
