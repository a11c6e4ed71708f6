"""The reply's own text: HTML turned into text, quoted history and our quoted letter left out."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from mailparser_reply import EmailReplyParser

#: The reply parser's regular expressions run on at most this much text; a longer text with no
#: quoted history in that prefix is kept whole.
REPLY_SCAN_CHARS = 200_000
REPLY_LANGUAGES = ["da", "sv", "en"]


class _HtmlText(HTMLParser):
    """Text of an HTML body: tags stripped, entities unescaped, quoted history left out."""

    _BLOCKS = frozenset(
        [
            "p",
            "div",
            "br",
            "tr",
            "li",
            "ul",
            "ol",
            "table",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "pre",
            "hr",
            "blockquote",
            "section",
        ]
    )
    _HIDDEN = frozenset({"script", "style", "head", "title", "blockquote"})
    _VOID = frozenset(
        ["br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr", "source"]
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip_tag: str | None = None
        self.skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skip_tag:
            if tag == self.skip_tag:
                self.skip_depth += 1
            return
        classes = " ".join(v or "" for k, v in attrs if k == "class")
        if tag not in self._VOID and (tag in self._HIDDEN or "gmail_quote" in classes):
            self.skip_tag, self.skip_depth = tag, 1
            return
        if tag in self._BLOCKS:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self.skip_tag:
            if tag == self.skip_tag:
                self.skip_depth -= 1
                if self.skip_depth == 0:
                    self.skip_tag = None
            return
        if tag in self._BLOCKS:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip_tag:
            self.out.append(re.sub(r"\s+", " ", data))


def html_to_text(markup: str) -> str:
    parser = _HtmlText()
    parser.feed(markup)
    parser.close()
    lines = [line.strip() for line in "".join(parser.out).replace("\xa0", " ").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


#: "-----Opprinnelig melding-----" and its kin: everything after it is quoted.
_SEPARATOR = re.compile(
    r"^[ \t>]*-{3,}[ \t]*(?:opprinnelig melding|original message|videresendt melding"
    r"|forwarded message|oprindelig meddelelse|ursprungligt meddelande)[ \t]*-{3,}[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
#: Gmail wraps a long attribution line: "... skrev Navn <" / "adresse@example.no>:".
_WRAPPED_ATTRIBUTION = re.compile(
    r"^([^>\n][^\n]{0,200}\s(?:skrev|wrote)\s[^\n]{0,200}[^:\n])\n([^\n]{1,200}>:)[ \t]*$",
    re.MULTILINE,
)


def reply_text(text: str) -> str:
    """The reply's own text: quoted history and our quoted letter left out."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    separator = _SEPARATOR.search(text)
    if separator:
        text = text[: separator.start()]
    text = _WRAPPED_ATTRIBUTION.sub(r"\1 \2", text)
    head = text[:REPLY_SCAN_CHARS]
    message = EmailReplyParser(languages=list(REPLY_LANGUAGES)).read(head)
    if message.replies and message.replies[0].headers:
        own = ""  # the text begins with a quote header: there is nothing of the reply's own
    elif len(message.replies) > 1 or len(text) <= REPLY_SCAN_CHARS:
        own = message.replies[0].content if message.replies else ""
    else:
        own = text  # a long text without quoted history in its first part: all of it
    lines = [line.rstrip() for line in own.split("\n") if not line.lstrip().startswith(">")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
