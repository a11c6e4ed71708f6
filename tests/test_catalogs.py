"""The gettext catalogs of the interface: every marked text translated in nb and nn, the
committed .mo files compiled from their .po, and the placeholders kept in each translation.

The extraction runs in-process with Babel's API (innspill.catalogs), as `make catalogs` does.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from babel.messages.catalog import Catalog

from innspill import i18n
from innspill.catalogs import check, extract, read
from innspill.dashboard.labels import countdown, fmt_weekday

PLACEHOLDER = re.compile(r"%\((\w+)\)s|\{(\w+)\}")


@pytest.fixture(scope="module")
def template() -> Catalog:
    return extract()


def test_the_sources_mark_the_interface_texts(template: Catalog) -> None:
    ids = {m.id for m in template if m.id}
    assert len(ids) > 400
    # from the templates, the labels, the status phrases, the answer form and the error pages
    assert {"Hopp til hovedinnholdet", "Over fristen", "Ikke invitert ennå"} <= ids
    assert {"Innspillet ble ikke lagret", "Fant ikke siden", "alt behandlet"} <= ids
    assert ("%(n)s gang", "%(n)s ganger") in ids


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_text_is_translated(template: Catalog, language: str) -> None:
    """Fails when a text is missing from a catalog, or left empty or fuzzy: run
    `make catalogs`, translate what it reports, and run it again."""
    problems = check(language, template)
    assert not problems.missing, f"not in {language}: {problems.missing} (run make catalogs)"
    assert not problems.untranslated, f"untranslated in {language}: {problems.untranslated}"
    assert not problems.stale_mo, f"the {language} .mo is stale: run make catalogs"


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_translations_keep_their_placeholders(language: str) -> None:
    for message in read(language):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) == wanted, (message.id, string)


def test_nynorsk_differs_where_the_languages_do() -> None:
    with i18n.using("nn"):
        assert i18n.gettext("Ikke startet") == "Ikkje starta"
        assert i18n.gettext("har svart") == "har svara"
        assert i18n.gettext("Meldinger") == "Meldingar"
        assert i18n.ngettext("%(n)s gang", "%(n)s ganger", 2) % {"n": 2} == "2 gonger"
        assert fmt_weekday(date(2020, 6, 2)) == "tysdag 2. juni 2020"
        assert countdown(3) == "om 3 dagar"
    with i18n.using("nb"):
        assert i18n.gettext("Ikke startet") == "Ikke startet"
        assert fmt_weekday(date(2020, 6, 2)) == "tirsdag 2. juni 2020"
    with i18n.using("de"):  # a language the interface lacks: bokmål
        assert i18n.current() == "nb"


def test_a_stale_mo_is_found(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The staleness check compares the .mo with what the .po compiles to."""
    import shutil

    from innspill import catalogs

    for language in i18n.LANGUAGES:
        folder = tmp_path / language / "LC_MESSAGES"
        folder.mkdir(parents=True)
        for suffix in (".po", ".mo"):
            source = catalogs.po_path(language).with_suffix(suffix)
            shutil.copy(source, folder / source.name)
    monkeypatch.setattr(catalogs, "LOCALE", tmp_path)
    template = extract()
    assert not check("nn", template)
    po = tmp_path / "nn" / "LC_MESSAGES" / "innspill.po"
    po.write_text(po.read_text().replace('msgstr "Ikkje starta"', 'msgstr "Ikkje byrja"'))
    assert check("nn", template).stale_mo
    po.write_text(po.read_text().replace('msgstr "Ikkje byrja"', 'msgstr ""'))
    assert check("nn", template).untranslated == ["Ikke startet"]
