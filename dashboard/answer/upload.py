"""Reading a posted answer: the texts per theme, the files, bounded while the body streams in.

Shared by the participants' form and the administrators' "register an answer".
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser

from innspill.dashboard.answer.access import MAX_TEXT_CHARS
from innspill.documents.files import inspect
from innspill.inbound.answers import MAX_FILE_BYTES, MAX_FILES
from innspill.process.definition import Theme

#: The largest request body the form takes: every file at its largest, and 1 MB for the texts.
MAX_BODY_BYTES = MAX_FILES * MAX_FILE_BYTES + 1024 * 1024
FIELD_PREFIX = "tema-"


class TooLarge(MultiPartException):
    def __init__(self) -> None:
        super().__init__("request body too large")


@dataclass
class Posted:
    csrf: str = ""
    texts: dict[str, str] = field(default_factory=dict)
    files: list[tuple[str, bytes]] = field(default_factory=list)
    remove: set[int] = field(default_factory=set)
    too_long: list[str] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)  # the `extra` fields asked for


async def read_form(
    request: Request, themes: list[Theme], *, extra: tuple[str, ...] = ()
) -> Posted:
    """The posted fields this form knows, and the text fields named in `extra` (others are
    ignored); raises TooLarge past the limit."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise TooLarge

    async def limited() -> AsyncGenerator[bytes, None]:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise TooLarge
            yield chunk

    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    limits: dict[str, Any] = {"max_fields": 200, "max_part_size": 4 * MAX_TEXT_CHARS + 1024}
    form: FormData
    if content_type == "multipart/form-data":
        parser = MultiPartParser(request.headers, limited(), max_files=MAX_FILES * 3, **limits)
        form = await parser.parse()
    elif content_type == "application/x-www-form-urlencoded":
        form = await FormParser(request.headers, limited(), **limits).parse()
    else:
        form = FormData()
    try:
        posted = Posted(csrf=str(form.get("csrf_token") or ""))
        for theme in themes:
            value = form.get(FIELD_PREFIX + theme.id)
            text = value.replace("\r\n", "\n") if isinstance(value, str) else ""
            posted.texts[theme.id] = text
            if len(text) > MAX_TEXT_CHARS:
                posted.too_long.append(theme.id)
        for name in extra:
            value = form.get(name)
            posted.fields[name] = value.replace("\r\n", "\n") if isinstance(value, str) else ""
        for value in form.getlist("fjern"):
            if isinstance(value, str) and value.isdigit() and len(value) < 18:
                posted.remove.add(int(value))
        for upload in form.getlist("filer"):
            if isinstance(upload, UploadFile):
                data = await upload.read()
                if upload.filename or data:  # an empty file input sends a nameless, empty part
                    posted.files.append((upload.filename or "vedlegg", data))
    finally:
        await form.close()
    return posted


def file_problems(words: dict[str, str], files: list[tuple[str, bytes]], *, kept: int) -> list[str]:
    """Why files handed in with an answer cannot be taken (too many, wrong type, unsafe, too
    large), worded with `words`; the same checks as `attach_file` makes."""
    max_mb = MAX_FILE_BYTES // (1024 * 1024)
    out: list[str] = []
    if kept + len(files) > MAX_FILES:
        out.append(
            words["too_many_files"].format(max_files=MAX_FILES, chosen=len(files), kept=kept)
        )
    for name, data in files:
        content_type, unsafe = inspect(data)
        if unsafe is not None:
            out.append(words["unsafe_archive"].format(name=name))
        elif content_type is None:
            out.append(words["wrong_type"].format(name=name))
        elif len(data) > MAX_FILE_BYTES:
            out.append(words["too_big"].format(name=name, max_mb=max_mb))
    return out
