"""The Noark 5 extract of a process as a ZIP, for administrators (`innspill archive export`
as a download); a viewer gets 403. A process that is not ready is refused (409) with each
reason, unless `?partial=1`. The ZIP is built in a temporary file and streamed from it, so a
large round is not held in memory."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import datetime
from typing import IO

from fastapi import APIRouter, Depends, HTTPException
from sqlmodel import Session
from starlette.responses import StreamingResponse

from innspill.dashboard.actions.common import Admin, Db, Now
from innspill.dashboard.deps import require_admin
from innspill.dashboard.documents.downloads import content_disposition
from innspill.errors import ExportRefused, UnknownProcess
from innspill.i18n import _
from innspill.noark.checks import Reason

router = APIRouter(dependencies=[Depends(require_admin)])


@router.get("/processes/{process_id}/archive/export.zip")
def export_zip(
    process_id: str, db: Db, now: Now, admin: Admin, partial: bool = False
) -> StreamingResponse:
    try:
        out = _build(db, process_id, now=now, by=admin.username, partial=partial)
    except UnknownProcess:
        raise HTTPException(404, _("Prosessen finnes ikke.")) from None
    except ExportRefused as exc:
        said = " ".join(_(r.said, **r.values) if isinstance(r, Reason) else r for r in exc.reasons)
        raise HTTPException(
            409,
            _(
                "Prosessen er ikke klar for arkivuttrekk. %(reasons)s Last ned et ufullstendig "
                "uttrekk, eller vent til dette er gjort.",
                reasons=said,
            ),
        ) from None
    size = out.tell()
    out.seek(0)
    headers = {
        "Content-Disposition": content_disposition(f"arkivuttrekk-{process_id}.zip"),
        "Content-Length": str(size),
        "X-Content-Type-Options": "nosniff",
    }
    return StreamingResponse(_chunks(out), media_type="application/zip", headers=headers)


def _build(db: Session, process_id: str, *, now: datetime, by: str, partial: bool) -> IO[bytes]:
    """The ZIP in a temporary file, left open at its end (the stream closes it)."""
    from innspill.noark.writer import ZipSink, export

    out = tempfile.TemporaryFile()  # noqa: SIM115 - outlives this function: _chunks closes it
    sink = ZipSink(out, f"arkivuttrekk-{process_id}")
    try:
        export(db, process_id, sink, now=now, by=by, partial=partial)
    except BaseException:
        sink.close()
        out.close()
        raise
    sink.close()
    return out


def _chunks(file: IO[bytes], size: int = 1 << 20) -> Iterator[bytes]:
    with file:
        while chunk := file.read(size):
            yield chunk
