"""A hostile corpus through the whole intake (parse, match by token, store) on a real database:
nothing crashes it, each message is held with a reason or imported as it should be, and a good
reply after them all is still imported."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, col, select

from innspill.config.settings import Settings
from innspill.inbound.intake import import_mail
from innspill.inbound.parse import parse_mail
from innspill.models import Answer, AnswerAttachment, InboundMessage, TokenPurpose
from innspill.models.db import session_scope
from innspill.outbound.addressing import plus_address
from innspill.tokens import derive
from tests.conftest import SEED_ID, load_seed, oslo, tick_and_send
from tests.dovecot import Dovecot, dovecot_server, dovecot_session  # noqa: F401  (fixtures)
from tests.hostile_corpus import Case, hostile
from tests.test_mail_in import NORD_JAEREN, STEP, fetch, reply

AT = oslo(2020, 4, 2, 10)


@pytest.fixture
def mailbox_settings(settings: Settings, dovecot: Dovecot) -> Settings:
    values = {**settings.model_dump(), **dovecot.imap_settings()}
    return Settings(**values, _env_file=None)  # type: ignore[call-arg]  (validated again)


@pytest.fixture
def addressed(engine, settings, smtp):  # type: ignore[no-untyped-def]
    """The seed loaded and its invitations sent: Bergen's reply address and a good reply."""
    load_seed(engine)
    tick_and_send(engine, settings, oslo(2020, 3, 30, 9, 30))
    good = reply(engine, NORD_JAEREN, AT, texts={"rolle": "Det gode svaret etter alt rusket."})
    parsed = parse_mail(good)
    assert parsed.tokens, "the seed's reply carries a token"
    # The corpus goes to the step's own reply address (as a reply to its reminder would): the
    # invitation's address serves both parts, and a reply there must also say which part.
    token = derive(settings.resolved_secret_key(), TokenPurpose.REPLY, SEED_ID, STEP, NORD_JAEREN)
    to = plus_address(str(settings.reply_to or "byvekst-innspill@vegvesen.example"), token)
    return to, parsed.sender, good


def _import(engine, raw: bytes, uid: str) -> InboundMessage:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        result = import_mail(session, raw, source="test", uid=uid, received_at=AT, now=AT)
        assert result.new
        return result.message


def test_the_hostile_corpus_is_held_or_imported_and_the_good_reply_still_comes_in(
    engine, addressed
):  # type: ignore[no-untyped-def]
    to, sender, good = addressed
    corpus = hostile(to, sender)
    assert len(corpus) >= 15
    for index, case in enumerate(corpus):
        _import(engine, case.raw, f"h{index}")
    _import(engine, good, "good")

    with Session(engine) as session:
        rows = session.exec(select(InboundMessage).order_by(col(InboundMessage.id))).all()
        answers = {a.id: a for a in session.exec(select(Answer)).all()}
        files = session.exec(select(AnswerAttachment)).all()
    assert len(rows) == len(corpus) + 1
    for case, row in zip(corpus, rows[:-1], strict=True):
        _check(case, row, answers)
        assert "\r" not in row.subject and "\n" not in row.subject and "\x00" not in row.subject
    last = rows[-1]
    assert (last.status, last.participant_key) == ("accepted", NORD_JAEREN)
    text = json.loads(answers[last.answer_id].text_json)  # type: ignore[index]
    assert text["rolle"].startswith("Det gode svaret etter alt rusket.")
    # The one real DOCX is the only file kept; the bombs and the forgery were refused.
    assert [f.filename for f in files] == ["ekte.docx"]
    accepted = [c for c in corpus if c.outcome == "accepted"]
    assert len(answers) == len(accepted) + 1
    assert sorted(a.version for a in answers.values()) == list(range(1, len(answers) + 1))


def _check(case: Case, row: InboundMessage, answers: dict[int | None, Answer]) -> None:
    if case.outcome == "held":
        assert (row.status, row.answer_id) == ("held", None), (case.name, row.reason)
        assert case.expect in row.reason, (case.name, row.reason)
        return
    assert row.status == "accepted", (case.name, row.reason)
    answer = answers[row.answer_id]
    assert answer.participant_key == NORD_JAEREN
    assert case.expect in " ".join(json.loads(answer.text_json).values()), case.name


def test_held_messages_show_the_parsers_note_and_keep_their_raw_bytes(engine, addressed):  # type: ignore[no-untyped-def]
    to, sender, _good = addressed
    cases = {c.name: c for c in hostile(to, sender)}
    expected = {
        "5,000 MIME parts": "more than 200 MIME parts; the rest was not read",
        "nested 50 levels": "MIME nested deeper than 20 levels; the rest was not read",
        "200,000 semicolons in Content-Type": "header too long: Content-Type has 200,041 bytes",
        "a parameter list the parser gives up on": "a multipart boundary never starts",
        "a ZIP bomb named .docx alone": "file refused: svar.docx: unpacks to 101 MB",
        "a PDF over 10 MB alone": "file refused: stor.pdf: too big (more than 10 MB)",
    }
    for uid, (name, note) in enumerate(expected.items()):
        row = _import(engine, cases[name].raw, str(uid))
        assert row.status == "held"
        assert note in row.reason, (name, row.reason)
        assert "no text of its own" not in row.reason
        assert row.raw == cases[name].raw
    # Whose it may be is still read from the headers, for the person who looks at it.
    with Session(engine) as session:
        rows = session.exec(select(InboundMessage)).all()
    assert {r.subject for r in rows} == {"SV: innspill"}
    assert {r.sender for r in rows} == {sender}


def test_inbox_list_shows_the_parsers_note(engine, addressed, cli):  # type: ignore[no-untyped-def]
    to, sender, _good = addressed
    cases = {c.name: c for c in hostile(to, sender)}
    _import(engine, cases["200,000 semicolons in Content-Type"].raw, "long")
    _import(engine, cases["5,000 MIME parts"].raw, "parts")
    result = cli("inbox", "list")
    assert result.exit_code == 0, result.output
    assert "header too long: Content-Type has 200,041 bytes (at most 16,384)" in result.output
    assert "more than 200 MIME parts; the rest was not read" in result.output


def test_the_corpus_through_a_real_imap_server(engine, addressed, mailbox_settings, dovecot):  # type: ignore[no-untyped-def]
    """From Dovecot, fetched and imported as production does: every message is handled (none
    is left failing on the server to be fetched forever) and the good reply comes in last."""
    to, sender, good = addressed
    corpus = hostile(to, sender)
    dovecot.append_all([c.raw for c in corpus] + [good])
    report = fetch(engine, mailbox_settings, AT)
    assert (report.handled, report.failed) == (len(corpus) + 1, [])
    with Session(engine) as session:
        rows = session.exec(select(InboundMessage).order_by(col(InboundMessage.id))).all()
    held = [c.name for c in corpus if c.outcome == "held"]
    assert [r.status for r in rows] == [
        "held" if c.name in held else "accepted" for c in corpus
    ] + ["accepted"]
    assert rows[-1].participant_key == NORD_JAEREN
    assert fetch(engine, mailbox_settings, AT).handled == 0
