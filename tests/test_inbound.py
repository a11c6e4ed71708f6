"""Inbound mail: a malformed-mail corpus generated here, classified without ever raising."""

from __future__ import annotations

import io
import zipfile
from email.message import EmailMessage
from email.policy import SMTP

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from innspill.documents.files import DOCX, ODT, PDF, inspect, sniff, unsafe_archive
from innspill.inbound.attachments import clean_filename
from innspill.inbound.headers import decode_header_value
from innspill.inbound.parse import InboundKind, parse_mail
from innspill.tokens import TOKEN_PATTERN
from tests.hostile_corpus import zip_bomb

TOKEN = "abcdefghijklmnopqrstuvwxyz234567"
OTHER = "bbbbbbbbbbbbbbbbbbbbbbbbbbbb2345"
REPLY_TO = f"byvekst-innspill+{TOKEN}@vegvesen.example"
SUBJECT = f"SV: Invitasjon til innspill: byvekstavtalen [ref:{TOKEN}]"
PDF_DATA = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


def mail(
    text: str = "Hei, her er vårt innspill.\n",
    *,
    to: str = REPLY_TO,
    subject: str = SUBJECT,
    sender: str = "Kari Nordmann <kari@bergen.byvekst.example>",
    headers: dict[str, str] | None = None,
    html: str | None = None,
    files: tuple[tuple[str, str, bytes], ...] = (),
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = "<reply.1@bergen.byvekst.example>"
    for name, value in (headers or {}).items():
        msg[name] = value
    if html is not None and not text:
        msg.set_content(html, subtype="html")
    else:
        msg.set_content(text)
        if html is not None:
            msg.add_alternative(html, subtype="html")
    for name, ctype, data in files:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes(policy=SMTP)


def docx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def odt_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", ODT)
        archive.writestr("content.xml", "<office:document-content/>")
    return buffer.getvalue()


# --------------------------------------------------------------------------- matching


def test_plain_answer_by_plus_address_and_subject() -> None:
    parsed = parse_mail(mail())
    assert parsed.kind is InboundKind.ANSWER
    assert parsed.tokens == (TOKEN,)
    assert parsed.sender == "kari@bergen.byvekst.example"
    assert parsed.message_id == "<reply.1@bergen.byvekst.example>"
    assert parsed.text == "Hei, her er vårt innspill."
    assert parsed.subject == SUBJECT


def test_spoofed_from_without_token_is_no_token() -> None:
    raw = mail(to="byvekst-innspill@vegvesen.example", subject="SV: Invitasjon til innspill")
    parsed = parse_mail(raw)
    assert parsed.kind is InboundKind.NO_TOKEN
    assert parsed.tokens == ()
    assert parsed.reason == "no token in the recipient address or subject"


def test_plus_address_first_then_subject_and_headers_in_order() -> None:
    third, fourth = "c" * 32, "d" * 32
    raw = mail(
        to=f"Innspill <byvekst-innspill+{TOKEN}@vegvesen.example>",
        subject=f"SV: innspill [REF:{OTHER.upper()}]",
        headers={
            "Delivered-To": f"x+{third}@vegvesen.example",
            "Cc": f"a+b+{fourth}@vegvesen.example, noen@example.no",
        },
    )
    assert parse_mail(raw).tokens == (third, TOKEN, fourth, OTHER)


def test_only_our_token_format_is_accepted() -> None:
    raw = mail(
        to=f"x+{'a' * 31}@v.example, y+{'a' * 33}@v.example, z+{'1' * 32}@v.example",
        subject=f"[ref:{'a' * 31}] [ref: {'a' * 40}] ref:{TOKEN}",
        text=f"Svar til byvekst-innspill+{TOKEN}@vegvesen.example [ref:{TOKEN}]",
    )
    parsed = parse_mail(raw)
    assert parsed.tokens == ()  # a token in the body does not count
    assert parsed.kind is InboundKind.NO_TOKEN


# --------------------------------------------------------------------------- reply text


def test_outlook_reply_with_norwegian_header_block() -> None:
    text = (
        "Vi støtter forslaget, men ber om at fristen forlenges.\n\n"
        "Med vennlig hilsen\nKari\n\n"
        "Fra: Statens vegvesen <byvekst-innspill@vegvesen.example>\n"
        "Sendt: mandag 30. mars 2020 09:00\n"
        "Til: Kari Nordmann <kari@bergen.byvekst.example>\n"
        "Emne: Invitasjon til innspill [ref:" + TOKEN + "]\n\n"
        "Hei\n\nVi inviterer til innspill. Frist: mandag 1. juni 2020.\n"
    )
    parsed = parse_mail(mail(text))
    assert parsed.kind is InboundKind.ANSWER
    # The sign-off and the name under it are the signature, not the answer.
    assert parsed.text == "Vi støtter forslaget, men ber om at fristen forlenges."
    assert "Vi inviterer" not in parsed.text and "Sendt:" not in parsed.text


def test_gmail_style_norwegian_reply() -> None:
    text = (
        "Takk, innspillet følger.\n\n"
        "man. 30. mar. 2020 kl. 09:00 skrev Statens vegvesen <post@vegvesen.example>:\n\n"
        "> Hei\n>\n> Vi inviterer til innspill.\n> > eldre sitat\n"
    )
    parsed = parse_mail(mail(text))
    assert parsed.text == "Takk, innspillet følger."


def test_wrapped_attribution_and_separator_lines() -> None:
    wrapped = (
        "Takk.\n\nman. 30. mar. 2020 kl. 09:00 skrev Statens vegvesen <\n"
        "post@vegvesen.example>:\n\nVi inviterer til innspill.\n"
    )
    assert parse_mail(mail(wrapped)).text == "Takk."
    separated = "Takk.\n\n-----Opprinnelig melding-----\nFra: a\nSendt: b\n\nVår tekst\n"
    assert parse_mail(mail(separated)).text == "Takk."


def test_quoted_lines_are_stripped_inline() -> None:
    parsed = parse_mail(mail("> Spørsmål 1?\nSvar 1.\n> Spørsmål 2?\nSvar 2.\n"))
    assert parsed.text == "Svar 1.\nSvar 2."


def test_html_only_reply() -> None:
    html = (
        "<html><head><style>p{color:red}</style></head><body>"
        "<p>Vi har ingen merknader &amp; st&oslash;tter planen.</p><div>Hilsen<br>Per</div>"
        '<div class="gmail_quote"><div>Den 30.03.2020 skrev Vegvesenet:</div>'
        "<blockquote>Vi inviterer til innspill</blockquote></div></body></html>"
    )
    parsed = parse_mail(mail("", html=html))
    assert parsed.kind is InboundKind.ANSWER
    assert (
        parsed.text == "Vi har ingen merknader & støtter planen."
    )  # "Hilsen / Per" is the signature


# --------------------------------------------------------------------------- attachments


def test_pdf_accepted_fake_docx_rejected() -> None:
    raw = mail(
        files=(
            ("innspill.pdf", "application/pdf", PDF_DATA),
            ("x.docx", DOCX, b"just some text, not a zip"),
            ("notat.txt", "text/plain", b"hei"),
        )
    )
    parsed = parse_mail(raw)
    assert parsed.kind is InboundKind.ANSWER
    assert [(f.filename, f.content_type, f.data) for f in parsed.files] == [
        ("innspill.pdf", PDF, PDF_DATA)
    ]
    assert parsed.rejected_files == (
        "x.docx: content is not a DOCX file",
        "notat.txt: type not allowed (text/plain)",
    )


def test_docx_and_odt_by_content_not_declared_type() -> None:
    raw = mail(
        files=(
            ("svar.docx", "application/octet-stream", docx_bytes()),
            ("svar.odt", "application/zip", odt_bytes()),
            ("uten-navn", "application/octet-stream", PDF_DATA),
            ("forkledd.pdf", "application/pdf", docx_bytes()),
        )
    )
    parsed = parse_mail(raw)
    assert [(f.filename, f.content_type) for f in parsed.files] == [
        ("svar.docx", DOCX),
        ("svar.odt", ODT),
        ("uten-navn.pdf", PDF),
    ]
    assert parsed.rejected_files == ("forkledd.pdf: name does not match its content (DOCX)",)


def test_huge_attachment_rejected_too_big() -> None:
    big = b"%PDF-1.4\n" + b"\x00" * (12 * 1024 * 1024)
    parsed = parse_mail(mail(files=(("stor.pdf", "application/pdf", big),)))
    assert parsed.kind is InboundKind.ANSWER
    assert parsed.files == ()
    assert len(parsed.rejected_files) == 1
    assert parsed.rejected_files[0].startswith("stor.pdf: too big")


def test_too_many_files() -> None:
    files = tuple((f"f{i}.pdf", "application/pdf", PDF_DATA) for i in range(4))
    parsed = parse_mail(mail(files=files), max_files=2)
    assert [f.filename for f in parsed.files] == ["f0.pdf", "f1.pdf"]
    assert parsed.rejected_files == (
        "f2.pdf: too many files (at most 2)",
        "f3.pdf: too many files (at most 2)",
    )


def test_filenames_decoded_and_cleaned() -> None:
    assert clean_filename("../../etc/..passwd\x00\u202e.pdf") == "passwd.pdf"
    assert clean_filename("C:\\Users\\kari\\Innspill.pdf") == "Innspill.pdf"
    long = clean_filename("a" * 300 + ".pdf")
    assert len(long) == 200 and long.endswith(".pdf")
    raw = (
        f"From: kari@example.no\r\nTo: {REPLY_TO}\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nHei\r\n"
        "--b\r\nContent-Type: application/pdf\r\n"
        "Content-Disposition: attachment; filename*=utf-8''%C3%98konomi%2Fsvar.pdf\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"
        '--b\r\nContent-Type: application/pdf; name="=?utf-8?q?Fr=C3=A5_oss.pdf?="\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n"
    ).encode()
    parsed = parse_mail(raw)
    assert [f.filename for f in parsed.files] == ["svar.pdf", "Frå oss.pdf"]


# --------------------------------------------------------------------------- auto-replies


def test_out_of_office_auto_submitted_with_token() -> None:
    raw = mail(
        "Jeg er på ferie til 14. april.",
        subject=f"Automatisk svar: {SUBJECT}",
        headers={"Auto-Submitted": "auto-replied"},
    )
    parsed = parse_mail(raw)
    assert parsed.kind is InboundKind.AUTO_REPLY
    assert parsed.reason == "auto-reply (Auto-Submitted: auto-replied)"
    assert parsed.tokens == (TOKEN,)


def test_out_of_office_by_subject_only() -> None:
    parsed = parse_mail(mail("Jeg er borte.", subject=f"Fraværsmelding: {SUBJECT}"))
    assert parsed.kind is InboundKind.AUTO_REPLY


def test_auto_reply_headers() -> None:
    for headers in (
        {"X-Autoreply": "yes"},
        {"X-Autorespond": "1"},
        {"Precedence": "bulk"},
        {"Precedence": "auto_reply"},
    ):
        assert parse_mail(mail(headers=headers)).kind is InboundKind.AUTO_REPLY, headers
    for headers in (
        {"Auto-Submitted": "no"},
        {"X-Auto-Response-Suppress": "OOF, AutoReply"},
        {"Precedence": "list"},
    ):
        assert parse_mail(mail(headers=headers)).kind is InboundKind.ANSWER, headers


# --------------------------------------------------------------------------- bounces

DSN = (
    "Return-Path: <>\r\n"
    "From: Mail Delivery System <MAILER-DAEMON@mx.vegvesen.example>\r\n"
    f"To: byvekst-innspill+{TOKEN}@vegvesen.example\r\n"
    "Subject: Undelivered Mail Returned to Sender\r\n"
    "Auto-Submitted: auto-replied\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
    '\tboundary="dsn"\r\n\r\n'
    "--dsn\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
    "I'm sorry to have to inform you that your message could not be delivered.\r\n"
    "--dsn\r\nContent-Type: message/delivery-status\r\n\r\n"
    "Reporting-MTA: dns; mx.vegvesen.example\r\n"
    "Arrival-Date: Mon, 30 Mar 2020 09:00:00 +0200\r\n\r\n"
    "Final-Recipient: rfc822; Sekretariat@bergen.byvekst.example\r\n"
    "Original-Recipient: rfc822;sekretariat@bergen.byvekst.example\r\n"
    "Action: failed\r\n"
    "Status: 5.1.1\r\n"
    "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\r\n"
    "Final-Recipient: rfc822; leder@bergen.byvekst.example\r\n"
    "Action: delayed\r\n"
    "Status: 4.4.1\r\n\r\n"
    "--dsn\r\nContent-Type: text/rfc822-headers\r\n\r\n"
    "From: post@vegvesen.example\r\n"
    f"Reply-To: byvekst-innspill+{OTHER}@vegvesen.example\r\n"
    "Subject: Invitasjon\r\n\r\n"
    "--dsn--\r\n"
)


def test_dsn_is_bounce_with_failed_recipient() -> None:
    parsed = parse_mail(DSN.encode())
    assert parsed.kind is InboundKind.BOUNCE
    assert parsed.bounced_recipients == ("sekretariat@bergen.byvekst.example",)
    assert parsed.reason == "delivery status notification (failed, delayed)"
    assert parsed.tokens == (TOKEN,)  # from our own envelope address, not the returned headers


def test_classic_bounce_with_failed_recipients_header() -> None:
    raw = (
        "Return-Path: <>\r\nFrom: Mail Delivery System <Mailer-Daemon@mx.example>\r\n"
        f"To: {REPLY_TO}\r\nSubject: Mail delivery failed: returning message to sender\r\n"
        "X-Failed-Recipients: Ola@Kommune.example, per@kommune.example\r\n\r\n"
        "This message was created automatically by mail delivery software.\r\n"
    ).encode()
    parsed = parse_mail(raw)
    assert parsed.kind is InboundKind.BOUNCE
    assert parsed.bounced_recipients == ("ola@kommune.example", "per@kommune.example")


def test_postmaster_without_evidence_is_not_a_bounce() -> None:
    parsed = parse_mail(mail("Hei, vi har et innspill.", sender="postmaster@kommune.example"))
    assert parsed.kind is InboundKind.ANSWER


# --------------------------------------------------------------------------- malformed corpus


def raw_mail(head: str, body: bytes) -> bytes:
    return (
        f"From: kari@example.no\r\nTo: {REPLY_TO}\r\nSubject: Svar\r\n{head}\r\n\r\n"
    ).encode() + body


def test_unknown_charset_and_mislabelled_utf8() -> None:
    unknown = parse_mail(raw_mail('Content-Type: text/plain; charset="x-unknown"', b"Bl\xe5b\xe6r"))
    assert unknown.kind is InboundKind.ANSWER
    assert unknown.text == "Blåbær"
    mislabelled = parse_mail(
        raw_mail("Content-Type: text/plain; charset=us-ascii", "Blåbær".encode())
    )
    assert mislabelled.text == "Blåbær"


def test_encoded_word_headers() -> None:
    assert decode_header_value("=?utf-8?q?Fra=C3=A5?= =?utf-8?b?IG9zcw==?=") == "Fraå oss"
    assert decode_header_value("=?iso-8859-1?q?Bl=E5b=E6r?=") == "Blåbær"
    assert decode_header_value("=?x-unknown?q?Bl=E5?=") == "Blå"
    assert decode_header_value("=?utf-8?q?a=0D=0ABcc: x@y?=") == "a Bcc: x@y"
    assert decode_header_value("=?utf-8?b?###?= ok") == "=?utf-8?b?###?= ok"
    assert decode_header_value("=?utf-8?q?unterminated") == "=?utf-8?q?unterminated"
    raw = (
        b"From: =?utf-8?q?Kari_N=C3=B8rdmann?= <kari@example.no>\r\n"
        b"To: " + REPLY_TO.encode() + b"\r\n"
        b"Subject: =?utf-8?b?RnJhdsOmcnNtZWxkaW5nOiBib3J0ZQ==?=\r\n"
        b"X-Bare: Bl\xe5b\xe6r\r\n\r\nHei\r\n"
    )
    parsed = parse_mail(raw)
    assert parsed.subject == "Fraværsmelding: borte"
    assert parsed.kind is InboundKind.AUTO_REPLY
    assert parsed.sender == "kari@example.no"


def test_bare_8bit_subject() -> None:
    raw = raw_mail("", b"Hei").replace(
        b"Subject: Svar", b"Subject: Sv\xe6r [ref:" + TOKEN.encode() + b"]"
    )
    parsed = parse_mail(raw)
    assert parsed.subject == f"Svær [ref:{TOKEN}]"
    assert parsed.tokens == (TOKEN,)


def test_broken_mime_missing_boundary_and_unterminated() -> None:
    # Where the parts of a multipart are cannot be known: held, never read as one text.
    no_boundary = parse_mail(raw_mail("Content-Type: multipart/mixed", b"Hei fra oss\r\n"))
    assert no_boundary.kind is InboundKind.UNPARSABLE
    assert no_boundary.tokens == (TOKEN,)  # whose it may be, for the person who looks at it
    assert "without a boundary" in no_boundary.reason
    unterminated = parse_mail(
        raw_mail(
            'Content-Type: multipart/mixed; boundary="b"',
            b"--b\r\nContent-Type: text/plain\r\n\r\nSvaret vaart\r\n--b\r\n"
            b"Content-Type: application/pdf\r\nContent-Disposition: attachment; "
            b'filename="a.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK',
        )
    )
    assert unterminated.kind is InboundKind.ANSWER
    assert unterminated.text == "Svaret vaart"
    assert [f.filename for f in unterminated.files] == ["a.pdf"]
    assert "unterminated" in unterminated.reason


def test_deeply_nested_multipart() -> None:
    body = b""
    for level in range(50):
        body = (
            f'Content-Type: multipart/mixed; boundary="b{level}"\r\n\r\n--b{level}\r\n'.encode()
            + (body or b"Content-Type: text/plain\r\n\r\ninnerst\r\n")
            + f"\r\n--b{level}--\r\n".encode()
        )
    raw = f"From: kari@example.no\r\nTo: {REPLY_TO}\r\nSubject: dypt\r\n".encode() + body
    parsed = parse_mail(raw)
    assert parsed.kind is InboundKind.UNPARSABLE
    assert parsed.reason == "held: MIME nested deeper than 20 levels; the rest was not read"
    assert parsed.notes == ("MIME nested deeper than 20 levels; the rest was not read",)
    assert parsed.tokens == (TOKEN,)


def test_nesting_beyond_the_standard_parser_keeps_the_headers() -> None:
    body = b"x"
    for level in range(3000):
        body = (
            f'Content-Type: multipart/mixed; boundary="b{level}"\r\n\r\n--b{level}\r\n'.encode()
            + body
            + f"\r\n--b{level}--\r\n".encode()
        )
    raw = f"From: kari@example.no\r\nTo: {REPLY_TO}\r\nSubject: dypt\r\n".encode() + body
    parsed = parse_mail(raw)
    # The standard parser recurses (RecursionError): the headers are still read.
    assert parsed.kind in (InboundKind.UNPARSABLE, InboundKind.ANSWER)
    assert parsed.subject == "dypt"
    assert parsed.tokens == (TOKEN,)


def test_too_many_parts() -> None:
    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(300))
    parsed = parse_mail(raw_mail('Content-Type: multipart/mixed; boundary="b"', parts + b"--b--"))
    # Its first fragment ("x") is not its answer.
    assert parsed.kind is InboundKind.UNPARSABLE
    assert "more than 200 MIME parts" in parsed.reason
    assert parsed.text == ""
    within = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(150))
    fine = parse_mail(raw_mail('Content-Type: multipart/mixed; boundary="b"', within + b"--b--"))
    assert (fine.kind, fine.text) == (InboundKind.ANSWER, "x")


def test_garbage_never_raises() -> None:
    for raw in (b"\x00\xff" * 100, b"", b"   \r\n", b"\r\n\r\nbody only", b"a:b"):
        parsed = parse_mail(raw)
        assert parsed.kind in (InboundKind.UNPARSABLE, InboundKind.NO_TOKEN), raw
    assert parse_mail(b"\x00\xff" * 100).kind is InboundKind.UNPARSABLE
    assert parse_mail(b"").reason == "empty message"
    assert parse_mail("not bytes").kind is InboundKind.UNPARSABLE  # type: ignore[arg-type]


# --------------------------------------------------------------------------- properties

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.binary(max_size=2000))
def test_never_raises_on_bytes(raw: bytes) -> None:
    parsed = parse_mail(raw)
    assert all(TOKEN_PATTERN.fullmatch(t) for t in parsed.tokens)


header_text = st.lists(
    st.sampled_from(
        [*"abcAZ27 :;<>@+[]=?_\"',.\\\r\n\t\x00æøå", "=?", "?=", "=?utf-8?q?", "=?x?b?", "\r\n "]
    ),
    max_size=40,
).map("".join) | st.text(max_size=40)
names = st.sampled_from(
    [
        "From",
        "To",
        "Cc",
        "Delivered-To",
        "Subject",
        "Content-Type",
        "Content-Disposition",
        "Auto-Submitted",
        "Message-ID",
        "X-Failed-Recipients",
        "Content-Transfer-Encoding",
    ]
)


@FAST
@given(
    st.lists(st.tuples(names, header_text), max_size=8),
    st.sampled_from(["", TOKEN, TOKEN.upper()]),
    st.text(max_size=200),
)
def test_never_raises_on_structured_headers(
    headers: list[tuple[str, str]], token: str, body: str
) -> None:
    # Our address first: a stray line break in a later header cannot hide it.
    lines = [f"To: x+{token}@v.example"] if token else []
    lines += [f"{name}: {value}" for name, value in headers]
    raw = ("\r\n".join(lines) + "\r\n\r\n" + body).encode("utf-8", "surrogatepass")
    parsed = parse_mail(raw)
    assert all(TOKEN_PATTERN.fullmatch(t) for t in parsed.tokens)
    assert "\n" not in parsed.subject and "\r" not in parsed.subject
    if token:
        assert parsed.tokens[0] == TOKEN


# --------------------------------------------------------------------------- hostile headers


def test_a_header_of_200000_semicolons_is_held_as_too_long() -> None:
    head = 'Content-Type: text/plain; charset="utf-8"' + ";" * 200_000
    parsed = parse_mail(raw_mail(head, b"Hei\r\n"))
    assert parsed.kind is InboundKind.UNPARSABLE
    assert parsed.reason.startswith("held: header too long: Content-Type has 200,0")
    assert parsed.tokens == (TOKEN,)
    assert parsed.sender == "kari@example.no"


def test_a_mime_part_with_too_many_parameters_is_held() -> None:
    part = b"--b\r\nContent-Type: text/plain; " + b"a=b;" * 150 + b"\r\n\r\nHei\r\n--b--\r\n"
    parsed = parse_mail(raw_mail('Content-Type: multipart/mixed; boundary="b"', part))
    assert parsed.kind is InboundKind.UNPARSABLE
    assert "header too long: Content-Type has 151 parameters (at most 100)" in parsed.reason


def test_long_ordinary_headers_within_the_bound_are_read() -> None:
    many = ", ".join(f"person{n}@example.no" for n in range(500))  # about 10 KB
    parsed = parse_mail(raw_mail(f"Cc: {many}", b"Svaret\r\n"))
    assert (parsed.kind, parsed.text) == (InboundKind.ANSWER, "Svaret")


# --------------------------------------------------------------------------- text parts


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain; charset*=utf-8''utf-8",
        "text/plain; charset*0*=utf-8''ut; charset*1*=f-8; format=flowed",
        'text/plain; charset="utf-8"; format=flowed; delsp=yes',
        "text/plain; charset=utf-8; name*=utf-8''",
        "text/plain; charset=utf-8; name*=utf-8''svar%20fra%20oss",
        "text/plain; charset*=utf-8''utf-8\r\nContent-Disposition: inline; filename*=utf-8''",
    ],
)
def test_a_text_part_with_rfc2231_parameters_is_the_text(content_type: str) -> None:
    body = (
        f"--b\r\nContent-Type: {content_type}\r\n\r\nVårt svar\r\n--b\r\n"
        "Content-Type: application/pdf\r\nContent-Disposition: attachment; "
        "filename*=utf-8''svar%C3%B8.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        "JVBERi0xLjQK\r\n--b--\r\n"
    ).encode()
    parsed = parse_mail(raw_mail('Content-Type: multipart/mixed; boundary="b"', body))
    assert parsed.kind is InboundKind.ANSWER
    assert parsed.text == "Vårt svar"
    assert [f.filename for f in parsed.files] == ["svarø.pdf"]
    assert parsed.rejected_files == ()


# --------------------------------------------------------------------------- ZIP bombs


def test_a_docx_zip_bomb_by_mail_is_refused_with_a_reason() -> None:
    big, dense = zip_bomb(total_mb=101), zip_bomb(total_mb=2)
    assert len(big) < 300_000 and len(dense) < 10_000  # small on disk
    parsed = parse_mail(
        mail(
            files=(
                ("svar.docx", DOCX, big),
                ("tett.docx", DOCX, dense),
                ("ekte.docx", DOCX, docx_bytes()),
            )
        )
    )
    assert parsed.kind is InboundKind.ANSWER
    assert [f.filename for f in parsed.files] == ["ekte.docx"]
    first, second = parsed.rejected_files
    assert first.startswith("svar.docx: unpacks to 101 MB (at most 100 MB): refused as unsafe")
    assert second.startswith("tett.docx: a part of it (word/document.xml) is compressed")
    assert "(at most 100:1)" in second


def test_zip_bomb_checks() -> None:
    assert inspect(zip_bomb(total_mb=101))[0] is None
    assert "unpacks to 101 MB" in (unsafe_archive(zip_bomb(total_mb=101)) or "")
    odt = zip_bomb(total_mb=2, odt=True)
    assert sniff(odt) is None and "compressed" in (unsafe_archive(odt) or "")
    assert inspect(docx_bytes()) == (DOCX, None)
    assert unsafe_archive(PDF_DATA) is None and sniff(PDF_DATA) == PDF
