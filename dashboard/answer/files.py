"""The files we sent with a step's invitation, for download from the answer form.

`/svar/{token}/vedlegg/{number}`: the participant's form token is the key, as for the form
itself, and it opens only the files of that token's step. The bytes are those loaded from the
process file, served as a download (never shown inline) with their own type.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session
from starlette.responses import Response

from innspill.dashboard.answer.access import INVALID, Refused, open_token
from innspill.dashboard.answer.form import PRIVATE_HEADERS, refused_page
from innspill.dashboard.deps import get_db, get_now
from innspill.process.attachments import step_files

router = APIRouter()


def disposition(filename: str) -> str:
    """`attachment` with the name, RFC 6266: ASCII as is, else a fallback and filename*."""
    if filename.isascii():
        return f'attachment; filename="{filename}"'
    fallback = filename.encode("ascii", "replace").decode("ascii").replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=utf-8''{quote(filename, safe='')}"


@router.get("/svar/{token}/vedlegg/{number}")
def download(
    request: Request,
    token: str,
    number: int,
    db: Annotated[Session, Depends(get_db)],
    now: Annotated[datetime, Depends(get_now)],
) -> Response:
    opened = open_token(db, token, now=now)
    if isinstance(opened, Refused):
        return refused_page(request, opened)
    files = step_files(db, opened.definition.id, [opened.step.id])
    if not 1 <= number <= len(files):
        return refused_page(request, INVALID)
    chosen = files[number - 1]
    return Response(
        chosen.data,
        media_type=chosen.content_type,
        headers={
            **PRIVATE_HEADERS,
            "Content-Disposition": disposition(chosen.filename),
            "X-Content-Type-Options": "nosniff",
        },
    )
