"""Texts a participant reads, in each language: a plain string (the process's language) or a
table `{ nb = "...", nn = "..." }` in the process file.

A text is a `Text`, a `str` in the process's language that also carries the table, so every
reader that wants the process's language (the dashboard, the status, the log) reads it as the
plain string it always was. A participant's letters, answer form and the drafters' compilation
read `ProcessDefinition.in_language(language)`, the one accessor: the same definition with
every text in that language (the process's where the table has none; `validate` names those).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Annotated, Any

from pydantic import BaseModel, Discriminator, Field, GetCoreSchemaHandler, Tag
from pydantic_core import CoreSchema, core_schema

Language = Annotated[str, Field(pattern=r"^[a-z]{2}$")]


class Text(str):
    """A text in one language (the string itself) with the table of every language given.

    `language` is the language of the string, None for a plain string (which is in the
    process's language, whatever that is); `texts` is empty for a plain string."""

    texts: Mapping[str, str]
    language: str | None

    def __new__(
        cls, value: str, texts: Mapping[str, str] | None = None, language: str | None = None
    ) -> Text:
        self = super().__new__(cls, value)
        self.texts = dict(texts or {})
        self.language = language
        return self

    def in_language(self, language: str) -> Text:
        """The text in `language`; itself when the table has no such text."""
        if language == self.language or language not in self.texts:
            return self
        return Text(self.texts[language], self.texts, language)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Text, (str(self), self.texts, self.language))


def has_language(value: str, language: str, *, default: str) -> bool:
    """Whether the text is given in `language` (a plain string is in `default`)."""
    if isinstance(value, Text) and value.texts:
        return language in value.texts
    return language == default


def variants(value: str) -> list[str]:
    """The text in every language it is given in (the string itself first)."""
    if isinstance(value, Text) and value.texts:
        return list(dict.fromkeys([str(value), *value.texts.values()]))
    return [str(value)]


def dump_text(value: str) -> str | dict[str, str]:
    """How the text is written back: the table when it has one, else the plain string."""
    if isinstance(value, Text) and value.texts:
        return dict(value.texts)
    return str(value)


class LocalText:
    """Pydantic metadata: the field is `inner` (a constrained str) or a table of `inner` by
    language, validated as a `Text`. `Annotated[str, LocalText(OneLine)]`: static type `str`."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        table = dict[Language, self.inner]  # type: ignore[name-defined]
        union = handler.generate_schema(tagged(self.inner, table))
        return core_schema.no_info_after_validator_function(
            _as_text,
            union,
            serialization=core_schema.plain_serializer_function_ser_schema(dump_text),
        )


def _kind(value: Any) -> str:
    return "table" if isinstance(value, dict) else "text"


def tagged(plain: Any, table: Any) -> Any:
    """`plain` or, for a TOML table, `table`. The tags name the two shapes; they appear in a
    problem's field path, where innspill.process.definition leaves them out."""
    return Annotated[
        Annotated[plain, Tag("text")] | Annotated[table, Tag("table")], Discriminator(_kind)
    ]


def _as_text(value: str | dict[str, str]) -> Text:
    if isinstance(value, Text):
        return value
    if isinstance(value, dict):
        if not value:
            raise ValueError("an empty table: give the text in at least one language")
        language, first = next(iter(value.items()))
        return Text(first, value, language)
    return Text(value)


#: The discriminator tags of the two shapes, left out of field paths.
SHAPE_TAGS = frozenset({"text", "table"})


def localized(value: Any, language: str) -> Any:
    """`value` (a model, a list, a dict or a text) with every Text in `language`; the same
    object where nothing changes, so unchanged parts are shared, not copied."""
    if isinstance(value, Text):
        return value.in_language(language)
    if isinstance(value, Localizable):
        return value.localized(language)
    if isinstance(value, BaseModel):
        updates = {}
        for name in type(value).model_fields:
            old = getattr(value, name)
            new = localized(old, language)
            if new is not old:
                updates[name] = new
        return value.model_copy(update=updates) if updates else value
    if isinstance(value, list):
        items = [localized(item, language) for item in value]
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    if isinstance(value, dict):
        pairs = {key: localized(item, language) for key, item in value.items()}
        return pairs if any(pairs[k] is not value[k] for k in value) else value
    return value


class Localizable:
    """A value other than a Text that holds texts (see schema.AttachmentRef)."""

    def localized(self, language: str) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def texts_with_paths(self, where: str) -> Iterator[tuple[str, Text]]:  # pragma: no cover
        raise NotImplementedError


def walk_texts(
    value: Any, where: str, visit: Callable[[str, str], None], *, skip: Iterable[str] = ()
) -> None:
    """Call `visit(path, text)` for every Text in value, with its field path
    (`steps[1].intro[0]`); `skip` names top-level fields not to enter."""
    if isinstance(value, Text):
        visit(where, value)
    elif isinstance(value, Localizable):
        for path, text in value.texts_with_paths(where):
            visit(path, text)
    elif isinstance(value, BaseModel):
        skipped = set(skip)
        for name in type(value).model_fields:
            if name not in skipped:
                walk_texts(getattr(value, name), f"{where}.{name}" if where else name, visit)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            walk_texts(item, f"{where}[{index}]", visit)
