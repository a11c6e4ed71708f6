"""Rendering once per shape (outbound.shapes, outbound.skeleton) writes the same messages as
rendering each one on its own: byte for byte, over the whole played seed round with more
participants (bokmål and nynorsk, with and without their own reference, names that HTML
escapes), and a template that does more with a name than print it is rendered one by one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jinja2 import DictLoader, Environment, StrictUndefined, select_autoescape
from markupsafe import escape
from sqlalchemy.engine import Engine

from innspill import engine as engine_module
from innspill.demo import run as demo
from innspill.outbound import shapes
from innspill.outbound.compose import compose
from innspill.outbound.mime import build_message
from innspill.outbound.numbering import PENDING
from innspill.outbound.shapes import Batch
from innspill.outbound.skeleton import Skeleton
from innspill.outbound.templates import Rendered
from innspill.outbound.transport import CaptureTransport
from innspill.planning.actions import ActionKind
from innspill.process.schema import Participant
from tests.conftest import SEED, copy_seed_files

#: Participants added to the seed: both written forms, with and without their own reference,
#: names with characters HTML escapes and long enough to matter if a template wrapped them.
EXTRA = [
    ("ekstra-nb-ref", "Sekretariatet for Ås & Ski <vest>", "nb", "2020/77 «A&B»"),
    ("ekstra-nb", "Byvekstsekretariatet for Nedre Glomma, Fredrikstad og Sarpsborg", "nb", None),
    ("ekstra-nn-ref", "Sekretariatet for byvekstavtalen i Førde & Florø", "nn", "20/5-1"),
    ("ekstra-nn", "Sekretariatet for byvekstavtalen i Voss", "nn", None),
]


def seed_with_extra() -> str:
    text = SEED.read_text(encoding="utf-8")
    blocks = []
    for n, (pid, name, language, reference) in enumerate(EXTRA, start=1):
        lines = [
            "[[participants]]",
            f'id = "{pid}"',
            f"name = {name!r}".replace("'", '"'),
            'role = "secretariat"',
            f'area = "Område {n}"',
            f'email = "sekretariat-{n}@ekstra.byvekst.example"',
            f'language = "{language}"',
        ]
        if reference:
            lines.append(f"their_reference = {reference!r}".replace("'", '"'))
        blocks.append("\n".join(lines) + "\n\n")
    first = text.index("[[participants]]")
    return text[:first] + "".join(blocks) + text[first:]


def test_the_played_round_is_the_same_rendered_once_per_shape(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every message of the round (invitations in two parts, reminders, overdue reminders,
    the extension's notice, receipts, compilations, meeting invitations and reminders, the
    draft and its reminders) as the tick wrote it from its shape equals the message composed
    on its own from the same state: raw bytes, or a pending letter's bytes and parts."""
    seed = tmp_path / "prosess.toml"
    seed.write_text(seed_with_extra(), encoding="utf-8")
    copy_seed_files(tmp_path)
    monkeypatch.setattr(demo, "SEED", seed)

    compared: dict[str, int] = {}
    batches: dict[int, Batch] = {}
    original = engine_module.compose_or_fail

    def both_ways(session: Any, definition: Any, action: Any, **kw: Any) -> Any:
        row, reason = original(session, definition, action, **kw)
        assert kw.get("batch") is not None, "the tick renders with a batch"
        batches[id(kw["batch"])] = kw["batch"]
        alone = compose(session, definition, action, **{**kw, "batch": None})
        assert reason is None, reason
        assert row == alone, (action.kind, action.participant_id)
        if PENDING in row:  # the letter's bytes as numbered are built from the same parts
            assert row[PENDING].raw == alone[PENDING].raw
        compared[action.kind.value] = compared.get(action.kind.value, 0) + 1
        return row, reason

    monkeypatch.setattr(engine_module, "compose_or_fail", both_ways)
    demo.setup(engine)
    transport = CaptureTransport(tmp_path / "mail")
    for day in demo.days():
        demo.run_day(engine, transport, day)

    kinds = {k.value for k in ActionKind if k != ActionKind.COMPILE}
    assert set(compared) == kinds - {"meeting_cancel"}, compared
    # The shapes were shared: Jinja ran far fewer times than there were messages (each shape
    # twice, to check it, and every receipt on its own).
    rendered = sum(b.rendered for b in batches.values())
    invitations = compared["invitation"] + compared["reminder"] + compared["overdue"]
    assert rendered < sum(compared.values()) - invitations / 3, (rendered, compared)


# --- what a template does with a participant's field decides whether a shape is used --------

BASE = {
    "letter.txt": "Til: {{ participant.name }}\n{% if participant.their_reference %}"
    "Deres ref: {{ participant.their_reference }}\n{% endif %}"
    "Svar til {{ reply_to }}.\n{{ body }}\n",
    "letter.html": "<p>Til: {{ participant.name }}</p><p><a href='mailto:{{ reply_to }}'>"
    "{{ reply_to }}</a></p>\n",
    "letter.subject.txt": "Brev {{ n }}",
}
WRAPPED = "{% filter wordwrap(30, break_long_words=False) %}Vi skriver til "
TOKEN = "abcdefghijklmnopqrstuvwxyz234567"


def _render_with(templates: dict[str, str]) -> Any:
    env = Environment(
        loader=DictLoader(templates),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    )

    def render(kind: str, language: str, context: dict[str, Any]) -> Rendered:
        return Rendered(
            " ".join(env.get_template(f"{kind}.subject.txt").render(context).split()),
            env.get_template(f"{kind}.txt").render(context),
            env.get_template(f"{kind}.html").render(context),
        )

    return render


def _participant(name: str, reference: str | None = None, n: int = 1) -> Participant:
    return Participant(
        id=f"p{n}",
        name=name,
        role="secretariat",
        email=f"p{n}@example.org",
        their_reference=reference,
    )


def _context(participant: Participant, token: str) -> dict[str, Any]:
    return {"participant": participant, "reply_to": f"svar+{token}@example.org", "n": 1}


PEOPLE = [
    _participant("Kort & godt", "2020/1", 1),
    _participant("Et mye lengre navn på en mottaker <med> tegn", None, 2),
    _participant("Tredje mottaker i rekken", "20/5-1", 3),
]
TOKENS = [TOKEN, TOKEN[::-1], "2" * 32]


@pytest.mark.parametrize(
    ("body", "shared"),
    [
        ("Med hilsen", True),
        (WRAPPED + "{{ participant.name }} om saken.{% endfilter %}", False),  # wrapped
        ("{{ participant.name|upper }}", False),  # changed
        ("{{ participant.name|length }} tegn", False),  # measured
        ("{{ participant.name|truncate(12) }}", False),  # cut
        ("{{ participant.name|e }}", False),  # escaped in the text part
        (WRAPPED + "{{ reply_to }} med svaret.{% endfilter %}", True),  # a token wraps as one
    ],
)
def test_a_shape_is_used_only_where_the_fields_are_only_printed(
    monkeypatch: pytest.MonkeyPatch, body: str, shared: bool
) -> None:
    templates = {
        name: text.replace("{{ body }}", body) if name.endswith(".txt") else text
        for name, text in BASE.items()
    }
    render = _render_with(templates)
    monkeypatch.setattr(shapes, "render", render)
    batch = Batch()
    for person, token in zip(PEOPLE, TOKENS, strict=True):
        context = _context(person, token)
        rendered, body_parts = batch.render("letter", "nb", context)
        alone = render("letter", "nb", context)
        assert rendered == alone
        assert body_parts == Skeleton.of(alone).body()
    # one shape for those with their own reference, one for those without (or none at all)
    assert len(batch.shapes) == 2
    assert all(shape is not None for shape in batch.shapes.values()) == shared
    assert batch.rendered == (4 if shared else 2 * 2 + len(PEOPLE))


def test_unescaped_html_is_rendered_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    templates = dict(BASE)
    templates["letter.html"] = "<p>{{ participant.name|safe }}</p>"
    render = _render_with({**templates, "letter.txt": "{{ participant.name }}"})
    monkeypatch.setattr(shapes, "render", render)
    batch = Batch()
    for person, token in zip(PEOPLE, TOKENS, strict=True):
        assert batch.render("letter", "nb", _context(person, token))[0] == render(
            "letter", "nb", _context(person, token)
        )
    assert set(batch.shapes.values()) == {None}


def test_the_skeleton_encodes_as_build_message_does() -> None:
    """Lines quoted-printable encodes with soft breaks, trailing spaces, dots and non-ASCII,
    a value in a long line: the parts are the bytes build_message writes."""
    stand_in = shapes.field_stand_in(1, False)
    text = (
        f"Til: {stand_in} {'ø' * 90}\n.\nlinje med mellomrom på slutten   \n"
        f"{'x' * 200}\n\n\tTab\nsiste linje uten linjeskift"
    )
    html = f"<p>{escape(stand_in)}</p>\r\n<p>{'æ' * 100}</p>"
    skeleton = Skeleton.of(Rendered("", text, html), [stand_in])
    for value in ("Ås & Ski <vest>", "A" * 120, "kort"):
        kw: dict[str, Any] = dict(
            sender_name="Etaten",
            sender_address="post@etaten.example",
            recipient_name=value,
            recipient_address="mottaker@example.org",
            reply_to="svar@etaten.example",
            subject="Emne",
            text=text.replace(stand_in, value),
            html=html.replace(str(escape(stand_in)), str(escape(value))),
            message_id="<x@etaten.example>",
            date=datetime(2020, 3, 30, 9, tzinfo=UTC),
        )
        assert build_message(**kw, body=skeleton.body([(stand_in, value)])) == build_message(**kw)


def test_a_name_with_a_stand_ins_character_is_rendered_on_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    render = _render_with(BASE | {"letter.txt": "Til: {{ participant.name }} / {{ reply_to }}"})
    monkeypatch.setattr(shapes, "render", render)
    batch = Batch()
    odd = _participant(f"Navn {shapes.token_stand_in(0, False)}", None, 4)
    for person, token in ((PEOPLE[1], TOKENS[0]), (odd, TOKENS[1])):
        assert batch.render("letter", "nb", _context(person, token))[0] == render(
            "letter", "nb", _context(person, token)
        )
