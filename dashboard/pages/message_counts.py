"""What the message log counts, said in words: its total by delivery status, and why the process
page's "sendt" is smaller (a combined row went inside another message: no mail of its own)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import Session, col

from innspill.dashboard.pages.queries import MessageFilter
from innspill.models import OutboxMessage

#: The statuses in the order the sentence names them, in bokmål.
_SAID = (
    ("sent", "sendt"),
    ("combined", "sendt sammen med en annen invitasjon"),
    ("failed", "feilet"),
    ("pending", "venter"),
    ("sending", "sendes nå"),
)


@dataclass
class MessageCounts:
    """The matching rows by delivery status, and how many of them are receipts."""

    by_status: dict[str, int]
    receipts: int

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    def of(self, status: str) -> int:
        return self.by_status.get(status, 0)

    def sentence(self) -> str:
        """`112 meldinger i alt, av dem 9 kvitteringer på svar: 103 sendt, 6 sendt sammen med
        en annen invitasjon og 3 feilet.`"""
        total = self.total
        head = f"{total} {'melding' if total == 1 else 'meldinger'} i alt"
        if self.receipts:
            receipts = "kvittering" if self.receipts == 1 else "kvitteringer"
            head += f", av dem {self.receipts} {receipts} på svar"
        parts = [f"{self.of(code)} {word}" for code, word in _SAID if self.of(code)]
        return f"{head}: {_listed(parts)}." if parts else f"{head}."

    def why_fewer(self, *, several: bool = False) -> str:
        """Why the process page (`several`: pages) shows fewer "sendt"; empty when nothing
        was combined."""
        combined = self.of("combined")
        if not combined:
            return ""
        # in the process page's order: sendt, venter, (sendes,) feilet
        said = dict(_SAID)
        order = ["sent", "pending", *(["sending"] if self.of("sending") else []), "failed"]
        others = [f"{self.of(code)} {said[code]}" for code in order]
        them = "Den" if combined == 1 else f"De {combined}"
        pages = "Prosessidene" if several else "Prosessiden"
        return (
            f"{pages} teller bare egne e-poster ({_listed(others)}): {them} som ble sendt "
            "sammen med en annen invitasjon (to steg i én e-post), telles ikke der."
        )


def _listed(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " og " + parts[-1]


def message_counts(session: Session, flt: MessageFilter) -> MessageCounts:
    """The rows the filter matches by status, and how many are receipts: one grouped query."""
    status, kind = col(OutboxMessage.status), col(OutboxMessage.kind)
    receipt = kind == "receipt"
    rows = session.execute(
        select(status, receipt, func.count()).where(*flt.conditions()).group_by(status, receipt)
    ).all()
    by_status: dict[str, int] = {}
    receipts = 0
    for state, is_receipt, n in rows:
        by_status[state] = by_status.get(state, 0) + int(n)
        receipts += int(n) if is_receipt else 0
    return MessageCounts(by_status, receipts)
