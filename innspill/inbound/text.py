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
    r"|forwarded message|oprindelig meddelelse|ursprungligt meddelande|videresendt e-post)"
    r"[ \t]*-{3,}[ \t]*$"
    # Apple Mail and others without dashes: "Begynn videresendt melding:".
    r"|^[ \t>]*(?:begin forwarded message|begynn videresendt melding|videresendt melding"
    r"|forwarded message|videresendt e-post)[ \t]*:?[ \t]*$"
    # A line of underscores: Outlook's rule above the quoted letter's header.
    r"|^[ \t]*_{10,}[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
#: Outlook's quoted header: "From: ..." / "Fra: ..." with "Sent:" / "Sendt:" a few lines on.
_HEADER_BLOCK = re.compile(
    r"^[ \t]*\*?(?:from|fra|från|von)[ \t]*:\*?[ \t]+[^\n]*\n(?:[^\n]*\n){0,3}?"
    r"[ \t]*\*?(?:sent|sendt|skickat|date|dato|datum|gesendet)[ \t]*:",
    re.IGNORECASE | re.MULTILINE,
)
#: Gmail's and Apple's attribution: "On ... wrote:", "Den ... skrev ...:", "1. jun. 2020 kl.
#: 10:15 skrev Kari <...>:"; a date (a digit) keeps it from matching a sentence of the answer.
_ATTRIBUTION = re.compile(
    r"^[ \t]*[^>\n](?=[^\n]*\d)[^\n]*?\b(?:wrote|skrev|schrieb)\b[^\n]*:[ \t]*$",
    re.IGNORECASE,
)
#: An attribution is one line (a wrapped one is joined first); longer lines are answer text.
ATTRIBUTION_MAX_CHARS = 600
#: The conventional signature separator, "-- " on its own line.
_SIG_DASHES = re.compile(r"^--[ \t]?$", re.MULTILINE)
#: Gmail wraps a long attribution line: "... skrev Navn <" / "adresse@example.no>:".
_WRAPPED_ATTRIBUTION = re.compile(
    r"^([^>\n][^\n]{0,200}\s(?:skrev|wrote)\s[^\n]{0,200}[^:\n])\n([^\n]{1,200}>:)[ \t]*$",
    re.MULTILINE,
)

#: A greeting on a line of its own: "Hei", "Hei alle,", "God dag!", "Hallo Kari", "Kjære alle".
_GREETING_LINE = re.compile(
    r"^(?:hei(?:\s+hei)?|heisann|hallo|hello|hi|god\s*dag|god\s+morgen|god\s+ettermiddag"
    r"|goddag|dear|kjære|kjæraste)\b(?:[ \t]+[^\s,.!?:]+){0,4}[ \t]*[,.!:]?$",
    re.IGNORECASE,
)
#: A greeting that begins a line of text: "Hei, her er ..." (the text goes on).
_GREETING_PREFIX = re.compile(
    r"^(?:hei(?:\s+alle)?|hallo(?:\s+alle)?|god\s*dag)\s*[,!.]\s+(?=\S)", re.IGNORECASE
)
#: A covering sentence that only hands the answer over: "Her er innspillet vårt.", "Vedlagt
#: følger våre merknader:", "Takk for muligheten til å gi innspill."
_COVERING = re.compile(
    # one sentence only: "Takk for invitasjonen. Vi støtter forslaget." keeps its answer
    r"^(?:her|vedlagt|nedenfor|under|se|takk)\b[^\n.!?]{0,100}\b(?:innspill|innspel|svar"
    r"|uttalelse|uttale|merknad|kommentar|tilbakemelding)\w*\b[^\n.!?]{0,60}[.!:]?$",
    re.IGNORECASE,
)
#: A sign-off: what follows it (name, title, phone, address) is the signature block.
_SIGN_OFF = re.compile(
    r"^(?:med\s+vennlig\s+hilsen|med\s+venleg\s+helsing|med\s+venlig\s+hilsen"
    r"|med\s+vänlig(?:a)?\s+häls(?:ning|ningar)|vänliga\s+hälsningar|vennlig\s+hilsen"
    r"|venleg\s+helsing|venlig\s+hilsen|beste\s+hilsen|beste\s+helsing|mange\s+hilsener"
    r"|hilsen|helsing|mvh|best\s+regards|kind\s+regards)\b"
    # then at most a name ("Mvh Kari Nordmann", "Hilsen Per,"), not a sentence
    r"[ \t]*[,.!]?(?:[ \t]+[^\s.!?:]+){0,5}[ \t]*[,]?$",
    re.IGNORECASE,
)
#: Lines a phone or mail program adds: "Sendt fra min iPhone", "Get Outlook for Android".
_DEVICE = re.compile(
    r"^(?:sendt\s+fra\s+min|sent\s+from\s+my|sendt\s+frå\s+min|skickat\s+från\s+min"
    r"|sent\s+from\s+outlook|sendt\s+fra\s+outlook|hent\s+outlook|get\s+outlook)\b[^\n]{0,60}$",
    re.IGNORECASE,
)
#: A sign-off cuts the rest only when what follows is a signature's size, not more answer.
SIGNATURE_MAX_LINES = 12


def _attribution_start(text: str) -> int | None:
    """Where the first attribution line begins; the regex runs only on lines with the verb,
    since on every line of a long text its bounded repeats cost seconds."""
    offset = 0
    for line in text.split("\n"):
        folded = line.casefold()
        if (
            len(line) <= ATTRIBUTION_MAX_CHARS
            and ("skrev" in folded or "wrote" in folded or "schrieb" in folded)
            and _ATTRIBUTION.match(line)
        ):
            return offset
        offset += len(line) + 1
    return None


def _cut_at_first(text: str, *patterns: re.Pattern[str]) -> str:
    starts = [m.start() for p in patterns if (m := p.search(text))]
    if (attribution := _attribution_start(text)) is not None:
        starts.append(attribution)
    return text[: min(starts)] if starts else text


def strip_courtesies(text: str) -> str:
    """The answer without greeting, covering sentence, sign-off, signature and device lines."""
    lines = [line for line in text.split("\n") if not _DEVICE.match(line.strip())]
    # The sign-off and all after it, if what follows is no longer than a signature. Only after
    # some answer: a first line "Hilsen fra ..." is the answer itself.
    filled = [bool(line.strip()) for line in lines]
    after = sum(filled)  # non-blank lines after the current one, once it is subtracted
    seen = False
    for index, line in enumerate(lines):
        after -= filled[index]
        if seen and after <= SIGNATURE_MAX_LINES and _SIGN_OFF.match(line.strip()):
            lines = lines[:index]
            break
        seen = seen or filled[index]
    signed = "\n".join(lines)
    while lines and not lines[0].strip():
        lines.pop(0)
    if lines and _GREETING_LINE.match(lines[0].strip()):
        lines.pop(0)
    elif lines:
        lines[0] = _GREETING_PREFIX.sub("", lines[0].lstrip())
    while lines and not lines[0].strip():
        lines.pop(0)
    # A one-line first paragraph that only hands the answer over.
    if lines and _COVERING.match(lines[0].strip()) and (len(lines) == 1 or not lines[1].strip()):
        lines.pop(0)
    # A reply that is nothing but "Hei, her er innspillet vårt." keeps those words: held as
    # empty it would be lost, and they may be all the participant wrote beside a file.
    kept = "\n".join(lines) if any(x.strip() for x in lines) else signed
    return re.sub(r"\n{3,}", "\n\n", kept).strip()


def reply_text(text: str) -> str:
    """The reply's own words: no quoted history or letter, no greeting, sign-off or signature."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = _WRAPPED_ATTRIBUTION.sub(r"\1 \2", text)
    # Cut where a quoted or forwarded letter or the signature begins, whichever comes first.
    text = _cut_at_first(text, _SEPARATOR, _HEADER_BLOCK, _SIG_DASHES)
    head = text[:REPLY_SCAN_CHARS]
    message = EmailReplyParser(languages=list(REPLY_LANGUAGES)).read(head)
    if message.replies and message.replies[0].headers:
        own = ""  # the text begins with a quote header: there is nothing of the reply's own
    elif len(message.replies) > 1 or len(text) <= REPLY_SCAN_CHARS:
        own = message.replies[0].content if message.replies else ""
    else:
        own = text  # a long text without quoted history in its first part: all of it
    lines = [line.rstrip() for line in own.split("\n") if not line.lstrip().startswith(">")]
    return strip_courtesies("\n".join(lines))
