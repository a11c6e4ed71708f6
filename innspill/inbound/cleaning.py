"""An answer's text as it counts: typed in the form or registered by hand, it is cleaned the way
a mailed reply is (innspill.inbound.text): no greeting, covering line, sign-off or signature
(with the name, title and phone numbers under it), no "Sendt fra min iPhone"."""

from __future__ import annotations

from innspill.inbound.text import strip_courtesies


def cleaned_texts(texts: dict[str, str]) -> dict[str, str]:
    """Each theme's text cleaned; a theme left with nothing of its own keeps what was typed
    (strip_courtesies never empties a text: "Hei, her er innspillet vårt." stays)."""
    out: dict[str, str] = {}
    for theme, text in texts.items():
        plain = text.replace("\r\n", "\n").replace("\r", "\n")
        kept = strip_courtesies(plain) if plain.strip() else ""
        if kept:
            out[theme] = kept
    return out
