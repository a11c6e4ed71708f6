"""Letters carry their own document number (`Vår referanse: 20/64758-12`), taken without gaps.

The number is taken in the transaction that writes the outbox row, but the letter is rendered
before (on SQLite outside any write transaction, so that ticks do not hold the lock while Jinja
runs). So a letter of a process with a journal is rendered and built with SLOT where its
number goes, and `number_letters`, called right before the rows are inserted, takes a block of
numbers for all of them and puts each in. It patches the built bytes: SLOT sits on a short
letter-head line, so quoted-printable writes it as one run of ASCII, and the number (shorter)
keeps the line short. Where a template put SLOT where the encoder split it, the bytes are
built again from the parts (found by counting: every SLOT rendered must be found encoded).
Building the MIME is a third of rendering a letter: done twice, or under the write lock, it
would cost the opening tick that much.
"""

from __future__ import annotations

import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from innspill.journal.numbers import Db, allocate
from innspill.journal.record import insert_entries, letter_entry
from innspill.outbound.mime import build_message
from innspill.process.definition import ProcessDefinition

#: Where the document number goes in a rendered letter until it is written (private-use
#: characters: no template or participant writes them by chance).
SLOT = "\ue000dokumentnummer\ue001"
#: What a preview shows for the number it does not have yet: `20/64758-…`.
UNNUMBERED = "…"
ENCODED_SLOT = binascii.b2a_qp(SLOT.encode(), istext=True)  # as quoted-printable writes it
#: The key of an outbox row's values that holds its PendingLetter until it is numbered (its
#: `raw` is None till then: an insert that forgets to number it fails on raw's NOT NULL).
PENDING = "pending_letter"


@dataclass(frozen=True)
class PendingLetter:
    """A rendered letter waiting for its number: its bytes and build_message's keywords, both
    with SLOT; its subject without the reply token (the journal title); the recipient's name."""

    raw: bytes
    parts: dict[str, Any]
    title: str
    name: str

    def build(self, reference: str) -> bytes:
        """The letter's bytes with `reference` where SLOT is."""
        rendered = self.parts["text"].count(SLOT) + self.parts["html"].count(SLOT)
        if self.raw.count(ENCODED_SLOT) == rendered:
            return self.raw.replace(ENCODED_SLOT, reference.encode("ascii"))
        parts = dict(self.parts)  # the encoder split a SLOT: build it again
        parts["text"] = parts["text"].replace(SLOT, reference)
        parts["html"] = parts["html"].replace(SLOT, reference)
        return build_message(**parts)


def number_letters(
    db: Db,
    definition: ProcessDefinition,
    rows: Sequence[dict[str, Any]],
    *,
    now: datetime,
    by: str = "",
) -> list[dict[str, Any]]:
    """The rows ready to insert, each pending letter numbered and built, its journal entry
    written; call it in the transaction that inserts the rows, right before the insert."""
    pending = [row for row in rows if PENDING in row]
    if not pending:
        return list(rows)
    archive = definition.archive
    assert archive is not None  # only a process with a journal renders pending letters
    numbers = iter(allocate(db, archive, definition.process.reference, len(pending), now=now))
    out: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    for row in rows:
        letter = row.get(PENDING)
        if letter is None:
            out.append(row)
            continue
        number = next(numbers)
        done = {k: v for k, v in row.items() if k != PENDING}
        done["raw"] = letter.build(number.reference)
        out.append(done)
        entries.append(
            letter_entry(
                definition, done, number, title=letter.title, name=letter.name, now=now, by=by
            )
        )
    insert_entries(db, entries)
    return out
