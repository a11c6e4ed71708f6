"""The Noark 5 extract of a process as a ZIP, for administrators (`innspill archive export`
as a download); a viewer gets 403. A process that is not ready is refused (409) with each
reason, unless `?partial=1`."""

from __future__ import annotations

import io

from fastapi import APIRouter, Depends, HTTPException
from starlette.responses import Response

from innspill.dashboard.actions.common import Admin, Db, Now
from innspill.dashboard.deps import require_admin
from innspill.dashboard.documents.downloads import download
from innspill.errors import ExportRefused, UnknownProcess

router = APIRouter(dependencies=[Depends(require_admin)])


@router.get("/processes/{process_id}/archive/export.zip")
def export_zip(process_id: str, db: Db, now: Now, admin: Admin, partial: bool = False) -> Response:
    from innspill.noark.writer import ZipSink, export

    buffer = io.BytesIO()
    sink = ZipSink(buffer, f"arkivuttrekk-{process_id}")
    try:
        export(db, process_id, sink, now=now, by=admin.username, partial=partial)
    except UnknownProcess:
        raise HTTPException(404, "Prosessen finnes ikke.") from None
    except ExportRefused as exc:
        reasons = "; ".join(exc.reasons)
        raise HTTPException(
            409,
            f"Prosessen er ikke klar for arkivuttrekk: {reasons}. Last ned et ufullstendig "
            "uttrekk, eller vent til dette er gjort.",
        ) from None
    finally:
        sink.close()
    return download(buffer.getvalue(), f"arkivuttrekk-{process_id}.zip", "application/zip")
