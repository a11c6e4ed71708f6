"""What the message log counts, said in words: its total by delivery status, and why the process
page's "sendt" is smaller (a combined row went inside another message: no mail of its own)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import Session, col

from innspill.dashboard.pages.queries import MessageFilter
from innspill.i18n import N_, _, ngettext
from innspill.models import OutboxMessage

#: The statuses in the order the sentence names them (catalog ids, translated where said).
_SAID = (
    ("sent", N_("%(n)s sendt")),
    ("combined", N_("%(n)s sendt sammen med en annen invitasjon")),
    ("failed", N_("%(n)s feilet")),
    ("pending", N_("%(n)s venter")),
    ("sending", N_("%(n)s sendes nå")),
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
        head = ngettext("%(n)s melding i alt", "%(n)s meldinger i alt", total) % {"n": total}
        if self.receipts:
            head += ngettext(
                ", av dem %(n)s kvittering på svar",
                ", av dem %(n)s kvitteringer på svar",
                self.receipts,
            ) % {"n": self.receipts}
        parts = [_(word, n=self.of(code)) for code, word in _SAID if self.of(code)]
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
        others = _listed([_(said[code], n=self.of(code)) for code in order])
        if several:
            message = (
                N_(
                    "Prosessidene teller bare egne e-poster (%(others)s): Den som ble sendt "
                    "sammen med en annen invitasjon (to steg i én e-post), telles ikke der."
                )
                if combined == 1
                else N_(
                    "Prosessidene teller bare egne e-poster (%(others)s): De %(n)s som ble "
                    "sendt sammen med en annen invitasjon (to steg i én e-post), telles ikke der."
                )
            )
        else:
            message = (
                N_(
                    "Prosessiden teller bare egne e-poster (%(others)s): Den som ble sendt "
                    "sammen med en annen invitasjon (to steg i én e-post), telles ikke der."
                )
                if combined == 1
                else N_(
                    "Prosessiden teller bare egne e-poster (%(others)s): De %(n)s som ble "
                    "sendt sammen med en annen invitasjon (to steg i én e-post), telles ikke der."
                )
            )
        return _(message, others=others, n=combined)


def _listed(parts: list[str]) -> str:
    last = _(" og ")
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + last + parts[-1]


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
