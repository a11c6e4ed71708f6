"""Load a new or edited process file from the browser: upload, check, then load or cancel.

Step 1 (POST /load) validates the upload as `innspill validate` does and shows
what the load would change (`preview_load`: the load's own change list, and the forecast
lines it adds and removes) without writing anything. Step 2 (POST /load/apply)
loads exactly the previewed upload (its HMAC is verified, see upload_bundle) through
`load_file`, the path `innspill load` takes, with the signed-in user as the actor.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response

from innspill.dashboard.actions.common import Admin, Db, Now, as_upcoming, check_csrf, done
from innspill.dashboard.actions.upload_bundle import (
    MAX_FIELD,
    MAX_FILES,
    MAX_PROCESS_FILE,
    MAX_TOTAL,
    BadUpload,
    Upload,
    build,
    seal,
    unseal,
    written,
)
from innspill.dashboard.auth import secret_key
from innspill.dashboard.deps import render, require_admin
from innspill.dashboard.pages import forecast_view
from innspill.errors import ChangeRefused, DefinitionError, InnspillError
from innspill.i18n import _, ngettext
from innspill.outbound.languages import check_languages
from innspill.planning.preview import LoadPreview, preview_load
from innspill.process.definition import ProcessDefinition, date_warnings, load_definition
from innspill.process.loading import load_file

router = APIRouter(dependencies=[Depends(require_admin)])

#: The longest diff of the definition the page shows (in lines).
DIFF_LINES = 400


@router.get("/load")
def form(request: Request) -> Response:
    return render(request, "load.html", {})


@router.post("/load")
async def check(request: Request, db: Db, now: Now, admin: Admin) -> Response:
    form = await request.form(max_files=MAX_FILES + 1, max_part_size=64 * 1024)
    check_csrf(request, str(form.get("csrf_token") or ""))
    try:
        upload = build(await _one(form, "process_file"), await _many(form, "attachments"))
    except BadUpload as exc:
        return render(request, "load.html", {"error": str(exc)}, status_code=400)
    context = await run_in_threadpool(_examine, db, upload, now, admin.username)
    if context.get("problems") or context.get("refused"):
        return render(request, "load.html", context, status_code=400)
    payload, signature = seal(upload, key=_key(request), user=admin.username, now=now)
    context |= {"payload": payload, "signature": signature}
    return render(request, "load_preview.html", context)


@router.post("/load/apply")
async def apply(request: Request, db: Db, now: Now, admin: Admin) -> Response:
    form = await request.form(max_files=0, max_part_size=MAX_FIELD)
    check_csrf(request, str(form.get("csrf_token") or ""))
    try:
        upload = unseal(
            str(form.get("upload") or ""),
            str(form.get("signature") or ""),
            key=_key(request),
            user=admin.username,
            now=now,
        )
    except (BadUpload, ValueError, KeyError, TypeError) as exc:
        message = str(exc) if isinstance(exc, BadUpload) else _("Opplastingen er ødelagt.")
        return render(request, "load.html", {"error": message}, status_code=400)
    result = await run_in_threadpool(_load, db, upload, now, admin.username)
    if isinstance(result, dict):  # changed in between (another load, a message sent)
        return render(request, "load.html", result, status_code=400)
    return result(request)


def _key(request: Request) -> str:
    return secret_key(request.app.state.settings)


async def _one(form: FormData, name: str) -> tuple[str, bytes]:
    value = form.get(name)
    if not isinstance(value, UploadFile) or not value.filename:
        raise BadUpload("Velg prosessfilen (.toml) du vil laste inn.")
    data = await value.read(MAX_PROCESS_FILE + 1)
    return value.filename, data


async def _many(form: FormData, name: str) -> list[tuple[str, bytes]]:
    out = []
    for value in form.getlist(name):
        if isinstance(value, UploadFile) and value.filename:
            out.append((value.filename, await value.read(MAX_TOTAL + 1)))
    return out


def _checked(path: Path, upload: Upload) -> ProcessDefinition:
    """The definition, checked as `innspill validate` checks it."""
    definition = load_definition(path)
    check_languages(definition, file=upload.process_file)
    return definition


def _problems(exc: DefinitionError, folder: Path) -> list[dict[str, str]]:
    """The problems, without the temporary folder's name."""
    hide = str(folder) + "/"
    return [{"field": p.field, "message": p.message.replace(hide, "")} for p in exc.problems]


def _examine(db: Session, upload: Upload, now: datetime, user: str) -> dict[str, Any]:
    """Everything the preview page shows; nothing is written."""
    context: dict[str, Any] = {"file": upload.process_file, "names": sorted(upload.files)}
    with written(upload) as path:
        try:
            definition = _checked(path, upload)
        except DefinitionError as exc:
            return context | {"problems": _problems(exc, path.parent)}
    context |= {"definition": definition, "warnings": date_warnings(definition)}
    try:
        preview = preview_load(db, definition, source=upload.process_file, now=now, by=user)
    except ChangeRefused as exc:
        return context | {"refused": str(exc)}
    finally:
        db.rollback()
    planned = preview.planned
    old = planned.old or definition
    return context | {
        "outcome": planned.outcome,
        "changes": planned.changes,
        "deadline_changes": len(planned.deadline_changes),
        "diff": _diff(planned.old, definition) if planned.old else [],
        "added": forecast_view.group(definition, preview.added, now),
        "removed": forecast_view.group(old, preview.removed, now),
        "added_count": len(preview.added),
        "removed_count": len(preview.removed),
        "sha256": upload.sha256,
    }


def _diff(old: ProcessDefinition, new: ProcessDefinition) -> list[str]:
    """The loaded definition against the new one, as text (the old TOML is not kept): the
    parts that differ, and of the participants, themes and steps the ones that differ (the
    whole of 8,000 participants took a third of a second to write out and compare)."""
    before, after = _changed_parts(old.model_dump(mode="json"), new.model_dump(mode="json"))

    def lines(part: dict[str, Any]) -> list[str]:
        return json.dumps(part, indent=2, ensure_ascii=False).splitlines()

    out = list(
        difflib.unified_diff(
            lines(before), lines(after), _("lastet inn"), _("ny fil"), n=2, lineterm=""
        )
    )
    if len(out) > DIFF_LINES:
        out = [*out[:DIFF_LINES], _("… (%(n)s linjer til)", n=len(out) - DIFF_LINES)]
    return out


def _changed_parts(old: dict[str, Any], new: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """The top-level parts that differ; of a list of items with ids in the same order, only
    the items that differ, added or removed."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for key in dict.fromkeys([*old, *new]):
        was, now = old.get(key), new.get(key)
        if was == now:
            continue
        was_items, now_items = _by_id(was), _by_id(now)
        if was_items is None or now_items is None or _reordered(was_items, now_items):
            before[key], after[key] = was, now
            continue
        ids = [
            i
            for i in dict.fromkeys([*was_items, *now_items])
            if was_items.get(i) != now_items.get(i)
        ]
        before[key] = [was_items[i] for i in ids if i in was_items]
        after[key] = [now_items[i] for i in ids if i in now_items]
    return before, after


def _by_id(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, list) or not all(isinstance(v, dict) and "id" in v for v in value):
        return None
    items = {str(v["id"]): v for v in value}
    return items if len(items) == len(value) else None


def _reordered(was: dict[str, Any], now: dict[str, Any]) -> bool:
    """True when the items both have are in another order (then the whole list is shown)."""
    both = set(was) & set(now)
    return [i for i in was if i in both] != [i for i in now if i in both]


def _load(
    db: Session, upload: Upload, now: datetime, user: str
) -> Callable[[Request], Response] | dict[str, Any]:
    """Load the upload; a callable making the redirect, or the form's context on an error."""
    with written(upload) as path:
        try:
            definition = _checked(path, upload)
            preview: LoadPreview = preview_load(
                db, definition, source=upload.process_file, now=now, by=user
            )
            report = load_file(db, path, now=now, by=user, source=upload.process_file)
        except DefinitionError as exc:
            db.rollback()
            return {"problems": _problems(exc, path.parent), "file": upload.process_file}
        except InnspillError as exc:
            db.rollback()
            return {"refused": str(exc), "file": upload.process_file}
    db.commit()
    notice = {
        "created": _("Prosessen «%(id)s» er lastet inn.", id=report.process_id),
        "updated": ngettext(
            "Prosessen «%(id)s» er oppdatert fra %(file)s (%(n)s endring).",
            "Prosessen «%(id)s» er oppdatert fra %(file)s (%(n)s endringer).",
            len(report.changes),
        )
        % {"id": report.process_id, "file": upload.process_file, "n": len(report.changes)},
        "unchanged": _(
            "Ingen endring: %(file)s er lik den som er lastet inn.", file=upload.process_file
        ),
    }[report.outcome]
    next_up = as_upcoming(definition, preview.added)
    return lambda request: done(request, f"/processes/{report.process_id}", notice, next_up)
