"""The field types of a process file: ids, one-line texts, addresses, texts per language and
the files a step sends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

from innspill.process.addresses import email_address
from innspill.process.header_values import check_header_value
from innspill.process.texts import Localizable, LocalText, Text, dump_text, tagged

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=80)]
# Every one-line text may reach a mail header (a name in To:, a title in Subject:, the place in
# a calendar file): line breaks and control characters, also hidden in encoded words, are
# refused here so that no tick ever meets them.
OneLine = Annotated[
    str,
    Field(min_length=1, max_length=300, pattern=r"^[^\r\n]*$"),
    AfterValidator(check_header_value),
]
# Checked as pydantic's EmailStr would (innspill.process.addresses), each domain once.
Address = Annotated[str, AfterValidator(email_address), AfterValidator(check_header_value)]
#: Attachments written as text are sent as a PDF made from them (innspill.process.assignment):
#: raw Markdown is a file a municipality's mail program cannot open.
RENDERED_SUFFIXES = (".md", ".txt")


def sent_name(path: str) -> str:
    """The file name an attachment is sent under: its own, or with .pdf for text and Markdown."""
    name = PurePosixPath(str(path)).name
    stem, dot, suffix = name.rpartition(".")
    if dot and stem and f".{suffix.lower()}" in RENDERED_SUFFIXES:
        return f"{stem}.pdf"
    return name


# A file sent with a step's invitation, relative to the process file: forward slashes, no
# quotes or control characters (the name reaches a MIME header).
AttachmentPath = Annotated[
    str,
    Field(min_length=1, max_length=300, pattern=r"^[^\x00-\x1f\x7f\"\\]+$"),
    AfterValidator(check_header_value),
]
# Texts a participant reads may be given per language (innspill.process.texts): a plain
# string is in the process's language, a table `{ nb = "...", nn = "..." }` gives each.
LocalOneLine = Annotated[str, LocalText(OneLine)]
Paragraph = Annotated[str, LocalText(Annotated[str, Field(min_length=1, max_length=5000)])]
LocalStr = Annotated[str, LocalText(str)]
# The case officer's telephone number, as it is written in the letters.
Phone = Annotated[str, Field(pattern=r"^\+?[0-9][0-9 ]{2,18}[0-9]$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _AttachmentTable(Strict):
    file: AttachmentPath
    title: LocalOneLine | None = None  # what the letters and the form call it


class AttachmentRef(str, Localizable):
    """A file a step sends (its path, the string itself) and the title it is shown under:
    `"oppdrag.md"` or `{ file = "oppdrag.md", title = { nb = "...", nn = "..." } }`."""

    caption: Text | None  # the `title` in the file (str.title is a method)

    def __new__(cls, path: str, caption: str | None = None) -> AttachmentRef:
        self = super().__new__(cls, path)
        self.caption = caption if isinstance(caption, Text) or caption is None else Text(caption)
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (AttachmentRef, (str(self), self.caption))

    @property
    def filename(self) -> str:
        return PurePosixPath(self).name

    @property
    def sent_filename(self) -> str:
        """The name it is sent under (`oppdrag.md` goes as `oppdrag.pdf`)."""
        return sent_name(self.filename)

    @property
    def label(self) -> str:
        """How letters name it: `Forslag til oppdrag (oppdrag.pdf)`, or the file name as sent."""
        return f"{self.caption} ({self.sent_filename})" if self.caption else self.sent_filename

    def localized(self, language: str) -> AttachmentRef:
        if self.caption is None or self.caption.in_language(language) is self.caption:
            return self
        return AttachmentRef(str(self), self.caption.in_language(language))

    def texts_with_paths(self, where: str) -> Iterator[tuple[str, Text]]:
        if self.caption is not None:
            yield f"{where}.title", self.caption

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(
            cls._from,
            handler.generate_schema(tagged(AttachmentPath, _AttachmentTable)),
            serialization=core_schema.plain_serializer_function_ser_schema(cls._dump),
        )

    @classmethod
    def _from(cls, value: str | _AttachmentTable) -> AttachmentRef:
        if isinstance(value, _AttachmentTable):
            return cls(value.file, value.title)
        return value if isinstance(value, AttachmentRef) else cls(value)

    @staticmethod
    def _dump(value: str) -> str | dict[str, Any]:
        caption = getattr(value, "caption", None)
        if caption is None:
            return str(value)
        return {"file": str(value), "title": dump_text(caption)}
