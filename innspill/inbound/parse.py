"""Parse and classify one raw incoming message: pure, no database and no network.

A reply is matched by a token that we put in the Reply-To address (``local+TOKEN@domain``) and
in the subject (``[ref:TOKEN]``); never by its From header. Bounces (DSN) and auto-replies are
recognised first, so that they are never taken for answers nor answered. `parse_mail` never
raises: whatever goes wrong gives UNPARSABLE with the reason, and the caller keeps the raw bytes.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import quopri
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from email.utils import collapse_rfc2231_value, getaddresses
from enum import StrEnum
from html.parser import HTMLParser

from mailparser_reply import EmailReplyParser

from innspill.inbound.files import DOCX, ODT, PDF, sniff
from innspill.tokens import TOKEN_PATTERN

ALLOWED_TYPES: frozenset[str] = frozenset({PDF, DOCX, ODT})
_EXTENSIONS = {PDF: ".pdf", DOCX: ".docx", ODT: ".odt"}
_LABELS = {PDF: "PDF", DOCX: "DOCX", ODT: "ODT"}

MAX_DEPTH = 20
MAX_PARTS = 200
MAX_FILENAME = 200
#: The reply parser's regular expressions run on at most this much text; a longer text with no
#: quoted history in that prefix is kept whole.
REPLY_SCAN_CHARS = 200_000
REPLY_LANGUAGES = ["da", "sv", "en"]


class InboundKind(StrEnum):
    ANSWER = "answer"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    NO_TOKEN = "no_token"  # noqa: S105
    UNPARSABLE = "unparsable"


@dataclass(frozen=True)
class InboundFile:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class ParsedMail:
    kind: InboundKind
    reason: str
    tokens: tuple[str, ...] = ()
    message_id: str | None = None
    sender: str = ""
    subject: str = ""
    text: str = ""
    files: tuple[InboundFile, ...] = ()
    rejected_files: tuple[str, ...] = ()
    bounced_recipients: tuple[str, ...] = ()


# --------------------------------------------------------------------------- headers

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")
_FOLD = re.compile(r"\r?\n[ \t]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_SPACES = re.compile(r"[ \t\xa0]{2,}")


def _unsurrogate(value: str) -> str:
    """Bare 8-bit bytes in a header (kept by the parser as surrogates): UTF-8, else Latin-1."""
    if value.isascii():
        return value
    raw = value.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _decode_bytes(data: bytes, charset: str | None) -> str:
    """Text in a declared charset, robustly: UTF-8 first for ASCII/Latin-1/unknown labels
    (mislabelled UTF-8 is common), the declared codec if it exists, then Latin-1."""
    name = (charset or "").strip().strip("\"'").split("*", 1)[0].lower()
    try:
        codec = codecs.lookup(name).name if name else None
    except LookupError:
        codec = None
    if codec in (None, "ascii", "latin-1", "iso8859-1", "cp1252", "utf-8"):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("cp1252" if codec == "cp1252" else "latin-1")
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode(codec, "replace")


def _decode_word(match: re.Match[str]) -> str:
    charset, encoding, text = match.group(1), match.group(2).lower(), match.group(3)
    try:
        if encoding == "b":
            text = text.strip()
            if not re.fullmatch(r"[A-Za-z0-9+/]+=*", text):
                return match.group(0)  # a broken word stays as it was
            text = text.rstrip("=")
            data = base64.b64decode(text + "=" * (-len(text) % 4))
        else:
            data = quopri.decodestring(text.replace("_", " ").encode("latin-1"), header=False)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return match.group(0)  # a broken word stays as it was
    return _decode_bytes(data, charset)


def decode_header_value(value: object) -> str:
    """One header value as one line of text: unfolded, 8-bit and encoded words decoded
    (broken ones kept literally), control characters (also encoded line breaks) as spaces."""
    text = _unsurrogate(str(value))
    text = _FOLD.sub(" ", text)
    # White space between two adjacent encoded words is not part of the text (RFC 2047).
    text = re.sub(r"(\?=)[ \t\r\n]+(?==\?)", r"\1", text)
    text = _ENCODED_WORD.sub(_decode_word, text)
    text = _CONTROL.sub(" ", text)
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in text)
    return _SPACES.sub(" ", text).strip()


def _raw_headers(msg: Message, name: str) -> list[str]:
    """The raw values of a header, unfolded and with 8-bit bytes decoded, not encoded words."""
    wanted = name.lower()
    return [
        _CONTROL.sub(" ", _FOLD.sub(" ", _unsurrogate(str(v))))
        for k, v in msg.raw_items()
        if k.lower() == wanted
    ]


def _header(msg: Message, name: str) -> str | None:
    values = _raw_headers(msg, name)
    return decode_header_value(values[0]) if values else None


# --------------------------------------------------------------------------- tokens

_PLUS = re.compile(r"\+([^+@\s]+)@[^@\s]+\Z")
_REF = re.compile(r"\[\s*ref\s*:\s*([^\]\s]+)\s*\]", re.IGNORECASE)
_ADDRESS_HEADERS = ("Delivered-To", "X-Original-To", "To", "Cc")


def _our_token(candidate: str) -> str | None:
    candidate = candidate.lower()
    return candidate if TOKEN_PATTERN.fullmatch(candidate) else None


def _addresses(values: Iterable[str]) -> list[str]:
    values = list(values)
    try:
        pairs = getaddresses(values)
    except Exception:  # a mangled address list: fall back to the plain words
        pairs = []
    found = [addr.strip().strip("<>") for _name, addr in pairs if addr and "@" in addr]
    if not found:
        found = [w.strip("<>,;\"'()") for v in values for w in v.split() if "@" in w]
    return found


def _tokens(msg: Message, subject: str) -> tuple[str, ...]:
    found: list[str] = []
    for name in _ADDRESS_HEADERS:
        for address in _addresses(_raw_headers(msg, name)):
            match = _PLUS.search(address)
            token = _our_token(match.group(1)) if match else None
            if token:
                found.append(token)
    for match in _REF.finditer(subject):
        token = _our_token(match.group(1))
        if token:
            found.append(token)
    return tuple(dict.fromkeys(found))


# --------------------------------------------------------------------------- MIME walk


@dataclass
class _Walk:
    leaves: list[Message] = field(default_factory=list)
    delivery_status: list[Message] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    parts: int = 0


def _walk(msg: Message) -> _Walk:
    walk = _Walk()
    stack: list[tuple[Message, int]] = [(msg, 0)]
    deep = False
    while stack:
        part, depth = stack.pop()
        if walk.parts >= MAX_PARTS:
            walk.notes.append(f"more than {MAX_PARTS} MIME parts; the rest was not read")
            break
        walk.parts += 1
        ctype = part.get_content_type()
        if ctype == "message/delivery-status":
            walk.delivery_status.append(part)
            continue
        if ctype == "message/rfc822" or not part.is_multipart():
            walk.leaves.append(part)
            continue
        if depth >= MAX_DEPTH:
            deep = True
            continue
        children = part.get_payload()
        if isinstance(children, list):
            stack.extend((c, depth + 1) for c in reversed(children) if isinstance(c, Message))
    if deep:
        walk.notes.append(f"MIME nested deeper than {MAX_DEPTH} levels; the rest was not read")
    for part in _messages(msg, walk.parts):
        for defect in getattr(part, "defects", ()):
            note = {
                "NoBoundaryInMultipartDefect": "broken MIME: a multipart without a boundary",
                "StartBoundaryNotFoundDefect": "broken MIME: a multipart boundary never starts",
                "CloseBoundaryNotFoundDefect": "broken MIME: an unterminated multipart",
            }.get(type(defect).__name__)
            if note and note not in walk.notes:
                walk.notes.append(note)
    return walk


def _messages(msg: Message, limit: int) -> Iterator[Message]:
    """The first `limit` parts, breadth first, without recursion."""
    queue = [(msg, 0)]
    seen = 0
    while queue and seen < limit:
        part, depth = queue.pop(0)
        seen += 1
        yield part
        payload = part.get_payload()
        if depth < MAX_DEPTH and isinstance(payload, list):
            queue.extend((c, depth + 1) for c in payload if isinstance(c, Message))


def _is_attachment(part: Message) -> bool:
    disposition = (_header(part, "Content-Disposition") or "").split(";", 1)[0].strip().lower()
    if disposition == "attachment" or part.get_param("filename", header="content-disposition"):
        return True
    if part.get_param("name"):
        return not part.get_content_type().startswith("text/") or disposition != "inline"
    ctype = part.get_content_type()
    return not (ctype.startswith(("text/", "multipart/")) or ctype == "message/delivery-status")


def _payload_bytes(part: Message) -> bytes:
    data = part.get_payload(decode=True)
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    return b""


def _part_text(part: Message) -> str:
    try:
        charset = part.get_content_charset()
    except Exception:  # a mangled charset parameter: guessed from the bytes
        charset = None
    return _decode_bytes(_payload_bytes(part), charset)


# --------------------------------------------------------------------------- bounces


def _status_blocks(part: Message) -> list[dict[str, str]]:
    """The field blocks of a message/delivery-status part, as lower-case name -> value."""
    payload = part.get_payload()
    blocks: list[dict[str, str]] = []
    if isinstance(payload, list):
        for block in payload:
            if isinstance(block, Message):
                blocks.append({k.lower(): decode_header_value(v) for k, v in block.raw_items()})
        return blocks
    text = _part_text(part).replace("\r\n", "\n")
    for chunk in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in _FOLD.sub(" ", chunk).split("\n"):
            name, sep, value = line.partition(":")
            if sep and name.strip():
                fields[name.strip().lower()] = value.strip()
        if fields:
            blocks.append(fields)
    return blocks


def _recipient(value: str) -> str:
    address = value.split(";", 1)[1] if ";" in value else value
    return address.strip().strip("<>").strip().lower()


def _bounce(msg: Message, walk: _Walk, sender: str, text: str) -> tuple[str, list[str]] | None:
    """(reason, failed recipients) if the message is a delivery status notification."""
    report = msg.get_content_type() == "multipart/report" and (
        (msg.get_param("report-type") or "").__str__().lower() == "delivery-status"
    )
    local = sender.rpartition("@")[0].lower() if "@" in sender else sender.lower()
    daemon = local in ("mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon")
    if not (report or (daemon and walk.delivery_status)):
        failed_header = _raw_headers(msg, "X-Failed-Recipients")
        dsn_like = re.search(
            r"delivery status notification|undeliver|could not be delivered|delivery has failed"
            r"|mail delivery failed|returned to sender|permanent(?:ly)? (?:error|fatal)"
            r"|^action:\s*failed",
            text,
            re.IGNORECASE | re.MULTILINE,
        )
        if daemon and (failed_header or dsn_like):
            recipients = [a.lower() for a in _addresses(failed_header)]
            return "bounce (from " + sender + ")", list(dict.fromkeys(recipients))
        return None
    failed: list[str] = []
    actions: list[str] = []
    for part in walk.delivery_status:
        for block in _status_blocks(part):
            action = block.get("action", "").split(";", 1)[0].strip().lower()
            if not action:
                continue
            actions.append(action)
            if action == "failed":
                for name in ("final-recipient", "original-recipient"):
                    if block.get(name):
                        failed.append(_recipient(block[name]))
    failed = [a for a in dict.fromkeys(failed) if a]
    summary = ", ".join(dict.fromkeys(actions)) or "no recipient blocks"
    return f"delivery status notification ({summary})", failed


# --------------------------------------------------------------------------- auto-replies

_AUTO_SUBJECT = re.compile(
    r"^\s*(?:automatisk svar|autosvar|fraværsmelding|out of office|automatic reply|auto:)",
    re.IGNORECASE,
)


def _auto_reply(msg: Message, subject: str) -> str | None:
    submitted = _header(msg, "Auto-Submitted")
    if submitted is not None:
        value = submitted.split(";", 1)[0].strip().lower()
        if value and value != "no":
            return f"auto-reply (Auto-Submitted: {submitted})"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoreply-From", "X-Mail-Autoreply"):
        flag = _header(msg, name)
        if flag is not None and flag.strip().lower() not in ("no", "false", "0"):
            return f"auto-reply ({name}: {flag})"
    precedence = (_header(msg, "Precedence") or "").strip().lower()
    if precedence in ("auto_reply", "bulk", "junk"):
        return f"auto-reply (Precedence: {precedence})"
    if _AUTO_SUBJECT.search(subject):
        return f"auto-reply (subject: {subject[:80]})"
    return None


# --------------------------------------------------------------------------- text


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


# --------------------------------------------------------------------------- attachments


def clean_filename(name: str) -> str:
    """A file name without path, control or format characters, leading dots; at most 200."""
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp"))
    name = name.strip().lstrip(".").strip()
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: MAX_FILENAME - len(ext) - 1].rstrip() + "." + ext
        else:
            name = name[:MAX_FILENAME].rstrip()
    return name


def _filename(part: Message) -> str:
    raw = part.get_param("filename", header="content-disposition") or part.get_param("name")
    if raw is None:
        return ""
    value = collapse_rfc2231_value(raw) if isinstance(raw, tuple) else str(raw)
    return clean_filename(decode_header_value(value))


def _accept(
    part: Message,
    *,
    allowed_types: frozenset[str],
    max_file_bytes: int,
    max_files: int,
    accepted: int,
) -> tuple[InboundFile | None, str | None]:
    declared = part.get_content_type()
    name = _filename(part)
    label = name or f"(unnamed {declared})"
    if declared == "message/rfc822":
        return None, f"{label}: a forwarded message is not accepted as a file"
    encoded = part.get_payload()
    if isinstance(encoded, str) and len(encoded) > max_file_bytes * 4 // 3 + 65_536 + 1024:
        return None, f"{label}: too big (more than {max_file_bytes // (1024 * 1024)} MB)"
    data = _payload_bytes(part)
    if len(data) > max_file_bytes:
        size = len(data) / (1024 * 1024)
        return None, f"{label}: too big ({size:.1f} MB > {max_file_bytes // (1024 * 1024)} MB)"
    detected = sniff(data)
    ext = ("." + name.rpartition(".")[2].lower()) if "." in name else ""
    if detected is None or detected not in allowed_types:
        claimed = next((t for t, e in _EXTENSIONS.items() if e == ext), None)
        if claimed and claimed in allowed_types:
            return None, f"{label}: content is not a {_LABELS[claimed]} file"
        return None, f"{label}: type not allowed ({declared})"
    if ext and ext != _EXTENSIONS[detected]:
        return None, f"{label}: name does not match its content ({_LABELS[detected]})"
    if accepted >= max_files:
        return None, f"{label}: too many files (at most {max_files})"
    if not ext:
        name = (name or "attachment")[: MAX_FILENAME - 5] + _EXTENSIONS[detected]
    return InboundFile(filename=name, content_type=detected, data=data), None


# --------------------------------------------------------------------------- the entry point


def parse_mail(
    raw: bytes,
    *,
    allowed_types: frozenset[str] = ALLOWED_TYPES,
    max_file_bytes: int = 10 * 1024 * 1024,
    max_files: int = 10,
) -> ParsedMail:
    """Parse and classify one raw message. Never raises."""
    try:
        return _parse(
            raw, allowed_types=allowed_types, max_file_bytes=max_file_bytes, max_files=max_files
        )
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"[:500]
        try:  # the headers alone may still say whose it is, for the holding queue
            msg = BytesParser(policy=compat32).parsebytes(bytes(raw), headersonly=True)
            subject = _header(msg, "Subject") or ""
            senders = _addresses(_raw_headers(msg, "From"))
            return ParsedMail(
                kind=InboundKind.UNPARSABLE,
                reason=reason,
                tokens=_tokens(msg, subject),
                message_id=_header(msg, "Message-ID"),
                sender=senders[0] if senders else "",
                subject=subject,
            )
        except Exception:
            return ParsedMail(kind=InboundKind.UNPARSABLE, reason=reason)


def _parse(
    raw: bytes, *, allowed_types: frozenset[str], max_file_bytes: int, max_files: int
) -> ParsedMail:
    raw = bytes(raw)
    if not raw.strip():
        return ParsedMail(kind=InboundKind.UNPARSABLE, reason="empty message")
    msg = BytesParser(policy=compat32).parsebytes(raw)
    if not msg.keys():
        return ParsedMail(kind=InboundKind.UNPARSABLE, reason="no headers: not a mail message")

    subject = _header(msg, "Subject") or ""
    from_values = _raw_headers(msg, "From")
    from_addresses = _addresses(from_values)
    sender = from_addresses[0] if from_addresses else decode_header_value(" ".join(from_values))
    message_id_value = _header(msg, "Message-ID")
    message_id = None
    if message_id_value:
        bracketed = re.search(r"<[^<>\s]+>", message_id_value)
        message_id = bracketed.group(0) if bracketed else message_id_value.split()[0]
    tokens = _tokens(msg, subject)

    walk = _walk(msg)
    notes = list(walk.notes)
    plain: Message | None = None
    html: Message | None = None
    broken: Message | None = None
    attachments: list[Message] = []
    for part in walk.leaves:
        ctype = part.get_content_type()
        if _is_attachment(part):
            if (
                ctype.startswith("image/")
                and part.get("Content-ID")
                and not (
                    (_header(part, "Content-Disposition") or "").lower().startswith("attachment")
                )
            ):
                continue  # an image embedded in the HTML (a logo in a signature)
            attachments.append(part)
        elif ctype == "text/plain" and plain is None:
            plain = part
        elif ctype == "text/html" and html is None:
            html = part
        elif ctype.startswith("multipart/") and broken is None:
            broken = part

    files: list[InboundFile] = []
    rejected: list[str] = []
    for part in attachments:
        try:
            accepted, why = _accept(
                part,
                allowed_types=allowed_types,
                max_file_bytes=max_file_bytes,
                max_files=max_files,
                accepted=len(files),
            )
        except Exception as exc:  # one unreadable attachment does not lose the message
            accepted, why = None, f"(attachment): could not be read ({type(exc).__name__})"
        if accepted is not None:
            files.append(accepted)
        if why is not None:
            rejected.append(why)

    if plain is not None:
        body = _part_text(plain)
    elif html is not None:
        body = html_to_text(_part_text(html))
    elif broken is not None:
        body = _part_text(broken)
    else:
        body = ""
    text = reply_text(body)

    def result(kind: InboundKind, why: str, recipients: Iterable[str] = ()) -> ParsedMail:
        return ParsedMail(
            kind=kind,
            reason="; ".join([why, *notes]),
            tokens=tokens,
            message_id=message_id,
            sender=sender,
            subject=subject,
            text=text,
            files=tuple(files),
            rejected_files=tuple(rejected),
            bounced_recipients=tuple(recipients),
        )

    bounce = _bounce(msg, walk, sender, body)
    if bounce is not None:
        return result(InboundKind.BOUNCE, *bounce)
    auto = _auto_reply(msg, subject)
    if auto is not None:
        return result(InboundKind.AUTO_REPLY, auto)
    if tokens:
        return result(InboundKind.ANSWER, "answer with token")
    return result(InboundKind.NO_TOKEN, "no token in the recipient address or subject")
