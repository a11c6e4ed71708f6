"""The interface's languages: gettext catalogs for bokmål (nb) and nynorsk (nn).

The message ids are the bokmål texts themselves (see docs/development.md, "Translations"):
`innspill/locale/nb` gives each id back as it is, `innspill/locale/nn` its nynorsk. The
language of what is being rendered is a context variable: the dashboard sets it per request
(the user's choice, a cookie), the answer form from the participant's `language`.

Mark a text with `_()` where it is said and with `N_()` where it is only stored (a table of
labels): `Labels` translates a stored one when it is looked up.
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from functools import cache
from pathlib import Path
from typing import Final, overload

LANGUAGES: Final = ("nb", "nn")
DEFAULT: Final = "nb"
DOMAIN: Final = "innspill"
LOCALE: Final = Path(__file__).resolve().parent / "locale"
#: What the language switch says of each language, in that language.
NAMES: Final = {"nb": "Bokmål", "nn": "Nynorsk"}

_current: ContextVar[str] = ContextVar("innspill_language", default=DEFAULT)


def language_of(language: str | None) -> str:
    """A language the interface has: `language` if it is one, else bokmål."""
    return language if language in LANGUAGES else DEFAULT


@cache
def translations(language: str) -> _gettext.NullTranslations:
    """The compiled catalog of `language` (`innspill/locale/<lang>/LC_MESSAGES/innspill.mo`)."""
    path = LOCALE / language_of(language) / "LC_MESSAGES" / f"{DOMAIN}.mo"
    with path.open("rb") as mo:
        return _gettext.GNUTranslations(mo)


def current() -> str:
    """The language being rendered now."""
    return _current.get()


def set_language(language: str | None) -> Token[str]:
    return _current.set(language_of(language))


@contextmanager
def using(language: str | None) -> Iterator[str]:
    """Render in `language` inside the block."""
    token = set_language(language)
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def gettext(message: str) -> str:
    """`message` (a bokmål id) in the current language."""
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return translations(_current.get()).pgettext(context, message)


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).npgettext(context, singular, plural, n)


def _(message: str, /, **values: object) -> str:
    """`message` in the current language, its `%(name)s` filled in from `values`."""
    said = gettext(message)
    return said % values if values else said


def N_(message: str) -> str:
    """Mark a text for the catalogs without translating it (it is translated where shown)."""
    return message


class Labels(dict[str, str]):
    """Labels of code words, marked with `N_`: looked up, a label comes in the current language
    (`STEP_KINDS["open"]` in a template, `.get(key, key)` in code)."""

    def __getitem__(self, key: str) -> str:
        return gettext(super().__getitem__(key))

    @overload  # type: ignore[override]
    def get(self, key: str, /) -> str | None: ...
    @overload
    def get(self, key: str, default: str, /) -> str: ...
    @overload
    def get(self, key: str, default: None, /) -> str | None: ...
    def get(self, key: str, default: str | None = None, /) -> str | None:
        if key in self:
            return self[key]
        return default

    def values(self) -> list[str]:  # type: ignore[override]
        return [self[k] for k in self]

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        return [(k, self[k]) for k in self]
