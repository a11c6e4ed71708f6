"""Render once per shape: a tick's messages that differ only by who gets them.

Most messages of a tick are one letter to many participants: two secretariats' invitations
to a step differ only by the name, their own reference, the reply and form tokens (and the
journal number, put in later by outbound.numbering). So a `Batch` renders each shape once:
the context with stand-ins for the participant's text fields and tokens, keyed by all else
in it (kind, language, the participant's other fields and which text fields are empty, the
step, its deadlines and dates, the definition's objects). Each message fills the stand-ins
with its own values (escaped in the HTML), and its MIME parts are built from the shape's
encoded lines: only the lines that hold a stand-in are encoded again (outbound.skeleton).

A shape is used only if rendering it with two sets of stand-ins, short ones and long ones
with spaces and `&`, gives the same message once filled. A template that wraps, cuts,
measures or escapes a participant's field differently then shows up as a difference (or a
stand-in left over), and that shape's messages are rendered one by one, as without a batch.
What a template may do with a participant's text field: print it, and test whether it is
empty. A token has a fixed length and no spaces, so paragraphs wrap the same around it.
Comparing a field with a value would go unnoticed: no template does, and
tests/test_shapes.py renders every message of the played seed round both ways.
"""

from __future__ import annotations

from dataclasses import dataclass, field, is_dataclass
from datetime import date, datetime
from typing import Any

from markupsafe import escape
from sqlmodel import Session

from innspill.models import DeadlineChange
from innspill.outbound.mime import Attachment
from innspill.outbound.skeleton import Body, Skeleton
from innspill.outbound.templates import Rendered, render
from innspill.process.attachments import StepFile, step_files
from innspill.process.deadline_reasons import step_changes
from innspill.process.schema import Participant
from innspill.tokens import TOKEN_PATTERN

#: The participant's fields that differ from one participant to the next: stood in for.
FIELDS = ("id", "name", "email", "area", "their_reference")
#: Every stand-in is made of these (private use: no template or participant writes them).
MARKS = ("\ue010", "\ue011", "\ue012", "\ue013", "\ue014")
TOKEN_LENGTH = 32


def field_stand_in(n: int, long: bool) -> str:
    """The stand-in of a participant's field: `&` is escaped in HTML, "aA" changes case."""
    return f"\ue010aA&{n}" + (" x&y" * 25 if long else "") + "\ue011"


def token_stand_in(n: int, long: bool) -> str:
    """A token's stand-in: as long as a token and without spaces, so it wraps as one."""
    head = f"\ue012aA{n}"
    return head + ("\ue014" if long else "\ue013") * (TOKEN_LENGTH - len(head))


_SHORT_TOKENS = [token_stand_in(n, False) for n in range(16)]


def _swap_tokens(value: str, tokens: dict[str, int], long: bool) -> str:
    """A plain string with each token in it replaced by its stand-in (numbered in the order
    they are first found, over the whole context)."""
    for token in TOKEN_PATTERN.findall(value):
        n = tokens.setdefault(token, len(tokens))
        stand_in = _SHORT_TOKENS[n] if not long and n < len(_SHORT_TOKENS) else None
        value = value.replace(token, stand_in or token_stand_in(n, long))
    return value


def _swap(value: Any, tokens: dict[str, int], long: bool) -> Any:
    """`value` with every token in its plain strings (the reply addresses and form links,
    also inside an invitation's parts) replaced by its stand-in; other objects as they are."""
    if type(value) is str:
        return _swap_tokens(value, tokens, long)
    if type(value) is dict:
        return {k: _swap(v, tokens, long) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(_swap(v, tokens, long) for v in value)
    return value


_SCALARS = frozenset({bool, int, float, date, datetime, type(None)})
_BY_VALUE: dict[type, bool] = {}  # whether a type is keyed by equality (a frozen dataclass)


def _key(value: Any, tokens: dict[str, int], keep: dict[int, Any]) -> Any:
    """What `value` renders as, hashable, with its tokens stood in for as `_swap` does:
    scalars with their type, containers item by item, texts as strings, dataclasses by
    equality (a deadline change), other objects by identity (the definition's: the same
    for every message of a tick; kept alive, so that no other object takes their id)."""
    kind = type(value)
    if kind is str:
        return _swap_tokens(value, tokens, False)
    if kind in _SCALARS:
        return (kind, value)
    if kind is dict:
        return ("map", tuple([(k, _key(v, tokens, keep)) for k, v in value.items()]))
    if kind is list or kind is tuple:
        return ("seq", tuple([_key(v, tokens, keep) for v in value]))
    if isinstance(value, str):  # a Text: templates print its string
        return value
    by_value = _BY_VALUE.get(kind)
    if by_value is None:
        by_value = _BY_VALUE[kind] = is_dataclass(kind) and kind.__hash__ is not None
    if by_value:
        try:
            hash(value)
            return ("obj", value)
        except TypeError:  # one holding a list, say
            pass
    keep[id(value)] = value
    return ("id", id(value))


def _participant_key(participant: Participant, keep: dict[int, Any]) -> tuple[Any, ...]:
    """The participant's fields as the shape sees them: whether each text field is given,
    the others (role, language) as they are."""
    out = []
    for name in type(participant).model_fields:
        value = getattr(participant, name)
        given = name in FIELDS and bool(value)  # stood in for; an empty one as it is
        out.append((name, True if given else _key(value, {}, keep)))
    return tuple(out)


def _stand_in_participant(participant: Participant, long: bool) -> tuple[Participant, list[str]]:
    """The participant with stand-ins in its given text fields, and those stand-ins."""
    update: dict[str, str] = {}
    for n, name in enumerate(FIELDS):
        if getattr(participant, name):
            update[name] = field_stand_in(n, long)
    return participant.model_copy(update=update), list(update.values())


def _values(participant: Participant) -> list[str]:
    return [str(getattr(participant, name)) for name in FIELDS if getattr(participant, name)]


@dataclass
class Shape:
    """A rendering with stand-ins, its encoded skeleton, and how to fill it."""

    fields: list[str]  # stand-ins of the participant's given fields, in FIELDS order
    tokens: list[str]  # stand-ins of the tokens, by number
    rendered: Rendered
    skeleton: Skeleton

    stand_ins: list[str] = field(init=False)  # all of them: fields, then tokens
    escaped: list[str] = field(init=False)  # the same as the HTML has them

    def __post_init__(self) -> None:
        self.stand_ins = [*self.fields, *self.tokens]
        self.escaped = [str(escape(s)) for s in self.stand_ins]


def _escaped(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(str(escape(k)), str(escape(v))) for k, v in pairs]


def _fill(
    rendered: Rendered, pairs: list[tuple[str, str]], escaped: list[tuple[str, str]]
) -> Rendered:
    """The rendering with each (stand-in, value) put in; in the HTML, both escaped."""
    subject, text, html = rendered.subject, rendered.text, rendered.html
    for stand_in, value in pairs:
        subject = subject.replace(stand_in, value)
        text = text.replace(stand_in, value)
    for stand_in, value in escaped:
        html = html.replace(stand_in, value)
    return Rendered(" ".join(subject.split()), text, html)


def _left_over(rendered: Rendered) -> bool:
    return any(
        m in part for m in MARKS for part in (rendered.subject, rendered.text, rendered.html)
    )


@dataclass
class Batch:
    """What the messages of one tick (one transaction) share: each shape rendered once, the
    steps' files read once, each attachment encoded once. Make one per transaction: the
    files are read as that transaction sees them."""

    shapes: dict[Any, Shape | None] = field(default_factory=dict)  # None: render one by one
    files: dict[tuple[str, tuple[str, ...]], list[StepFile]] = field(default_factory=dict)
    encoded: dict[Attachment, bytes] = field(default_factory=dict)
    keep: dict[int, Any] = field(default_factory=dict)
    changes: dict[tuple[str, str], list[DeadlineChange]] = field(default_factory=dict)
    rendered: int = 0  # how many times Jinja ran (for tests and the bench)

    def deadline_changes(
        self, session: Session, process_id: str, step_id: str
    ) -> list[DeadlineChange]:
        """The step's deadline changes, every participant's, read once per batch."""
        key = (process_id, step_id)
        found = self.changes.get(key)
        if found is None:
            found = self.changes[key] = step_changes(session, process_id, step_id)
        return found

    def step_files(self, session: Session, process_id: str, steps: list[str]) -> list[StepFile]:
        key = (process_id, tuple(steps))
        found = self.files.get(key)
        if found is None:
            found = self.files[key] = step_files(session, process_id, steps)
        return found

    def render(self, kind: str, language: str, context: dict[str, Any]) -> tuple[Rendered, Body]:
        """The message rendered and its text and HTML parts encoded, from its shape when it
        has one (else rendered on its own)."""
        participant = context.get("participant")
        if not isinstance(participant, Participant):  # nothing to stand in for
            self.rendered += 1
            rendered = render(kind, language, context)
            return rendered, Skeleton.of(rendered).body()
        given = _values(participant)
        if any(m in v for v in given for m in MARKS):  # would be taken for a stand-in
            self.rendered += 1
            rendered = render(kind, language, context)
            return rendered, Skeleton.of(rendered).body()
        tokens: dict[str, int] = {}
        rest = {k: v for k, v in context.items() if k != "participant"}
        key = (
            kind,
            language,
            _participant_key(participant, self.keep),
            _key(rest, tokens, self.keep),
        )
        if key not in self.shapes:
            self.shapes[key] = self._shape(kind, language, context)
        shape = self.shapes[key]
        found = list(tokens)  # the tokens in the order they stand in
        if shape is None or len(found) != len(shape.tokens):
            self.rendered += 1
            rendered = render(kind, language, context)
            return rendered, Skeleton.of(rendered).body()
        values = [*given, *found]
        pairs = list(zip(shape.stand_ins, values, strict=True))
        escaped = list(zip(shape.escaped, [str(escape(v)) for v in values], strict=True))
        return _fill(shape.rendered, pairs, escaped), shape.skeleton.body(pairs, escaped)

    def _shape(self, kind: str, language: str, context: dict[str, Any]) -> Shape | None:
        participant = context["participant"]
        values = _values(participant)
        made: list[tuple[Rendered, list[tuple[str, str]], list[str], list[str]]] = []
        for long in (False, True):
            tokens: dict[str, int] = {}
            shaped = {k: _swap(v, tokens, long) for k, v in context.items() if k != "participant"}
            stand_in, fields = _stand_in_participant(participant, long)
            shaped["participant"] = stand_in
            self.rendered += 1
            rendered = render(kind, language, shaped)
            token_ins = [token_stand_in(n, long) for n in range(len(tokens))]
            pairs = [*zip(fields, values, strict=True), *zip(token_ins, tokens, strict=True)]
            made.append((rendered, pairs, fields, token_ins))
        (short, short_pairs, fields, token_ins), (long_, long_pairs, _, _) = made
        filled = _fill(short, short_pairs, _escaped(short_pairs))
        if filled != _fill(long_, long_pairs, _escaped(long_pairs)) or _left_over(filled):
            return None  # the template does more than print the fields: one by one
        return Shape(fields, token_ins, short, Skeleton.of(short, [*fields, *token_ins]))
