"""The gettext catalogs of the interface: extract, update, compile and check (Babel's API).

`scripts/catalogs` (`make catalogs`) runs `update()`: the texts marked in the code and the
templates are extracted, both catalogs `innspill/locale/{nb,nn}/LC_MESSAGES/innspill.po` are
brought up to date (new ids added untranslated, gone ones dropped), the bokmål catalog gives
each new id back as it is (the ids are bokmål), and both are compiled to `.mo`. The `.mo` files
are committed, so a clean clone needs no build step; `tests/test_catalogs.py` fails when one is
stale against its `.po`, or when an id is missing or untranslated in either catalog.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from innspill.i18n import DOMAIN, LANGUAGES, LOCALE

NAMES = {"nb": "bokmål", "nn": "nynorsk"}
HEADER = """\
# The interface of innspill (dashboard, answer form, status texts) in {name}.
# The ids are the bokmål texts (docs/development.md, "Translations"). Update with
# `make catalogs`: it extracts, updates this file and compiles the .mo next to it.
#"""

#: The checkout: extraction reads the sources there (innspill/ and dashboard/).
ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
    "N_": None,
}
JINJA = "jinja2.ext:babel_extract"
JINJA_OPTIONS = {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true"}


def sources(root: Path = ROOT) -> Iterable[tuple[Path, str]]:
    """Each file texts are marked in, with its Babel method (Python or Jinja2)."""
    for folder in ("innspill", "dashboard"):
        for path in sorted((root / folder).rglob("*.py")):
            if not path.is_symlink() and "locale" not in path.parts:
                yield path, "python"
    for path in sorted((root / "dashboard" / "templates").glob("*.html")):
        yield path, JINJA


def extract(root: Path = ROOT) -> Catalog:
    """Every marked text of the sources, as a catalog template."""
    template = Catalog(project="innspill", domain=DOMAIN, fuzzy=False)
    for path, method in sources(root):
        options = JINJA_OPTIONS if method == JINJA else {}
        relative = path.relative_to(root).as_posix()
        found = extract_from_file(
            method, str(path), keywords=KEYWORDS, comment_tags=("Translators:",), options=options
        )
        for lineno, message, comments, context in found:
            template.add(
                message,
                None,
                [(relative, lineno)],
                auto_comments=comments,
                context=context,
            )
    return template


def po_path(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(language: str) -> Catalog:
    path = po_path(language)
    if not path.exists():
        return Catalog(locale=language, domain=DOMAIN, project="innspill", fuzzy=False)
    with path.open("rb") as po:
        return read_po(po, locale=language, domain=DOMAIN)


def compiled(catalog: Catalog) -> bytes:
    """The `.mo` bytes of a catalog (fuzzy entries left out, as gettext does)."""
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def _untranslated(message: Message) -> bool:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return message.fuzzy or not all(strings)


def update(root: Path = ROOT) -> dict[str, int]:
    """Extract, update both catalogs and compile them; per language, the ids left to
    translate."""
    template = extract(root)
    left: dict[str, int] = {}
    for language in LANGUAGES:
        catalog = read(language)
        # a copy: update() takes the template's own message objects for new ids
        catalog.update(
            copy.deepcopy(template),
            no_fuzzy_matching=True,
            update_header_comment=False,
            update_creation_date=False,
        )
        catalog.header_comment = HEADER.format(name=NAMES[language])
        catalog.language_team = catalog.last_translator = "innspill"
        catalog.msgid_bugs_address = ""
        catalog.version = "1"
        if language == "nb":  # the ids are bokmål: the bokmål catalog says them as they are
            for message in catalog:
                if message.id and _untranslated(message):
                    message.string = message.id
                    message.flags.discard("fuzzy")
        path = po_path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as po:
            write_po(po, catalog, width=100, ignore_obsolete=True, include_previous=False)
        path.with_suffix(".mo").write_bytes(compiled(catalog))
        left[language] = sum(1 for m in catalog if m.id and _untranslated(m))
    return left


@dataclass
class Problems:
    """What is wrong with one language's catalog."""

    missing: list[str]
    untranslated: list[str]
    stale_mo: bool

    def __bool__(self) -> bool:
        return bool(self.missing or self.untranslated or self.stale_mo)


def _key(message: Message) -> str:
    ident = message.id if isinstance(message.id, str) else message.id[0]
    return f"{message.context}\x04{ident}" if message.context else ident


def check(language: str, template: Catalog | None = None) -> Problems:
    """The ids the sources use that `language`'s catalog lacks or leaves untranslated (empty or
    fuzzy), and whether its `.mo` differs from what its `.po` compiles to."""
    template = template or extract()
    catalog = read(language)
    have = {_key(m): m for m in catalog if m.id}
    missing, untranslated = [], []
    for message in template:
        if not message.id:
            continue
        found = have.get(_key(message))
        if found is None:
            missing.append(_key(message))
        elif _untranslated(found):
            untranslated.append(_key(message))
    mo = po_path(language).with_suffix(".mo")
    stale = not mo.exists() or mo.read_bytes() != compiled(catalog)
    return Problems(missing, untranslated, stale)


def main() -> None:
    left = update()
    for language, count in left.items():
        print(f"{po_path(language).relative_to(ROOT)}: {count} to translate")


if __name__ == "__main__":
    main()
