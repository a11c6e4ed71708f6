"""The domain's English notes, said in the interface's language where the pages show them.

The engine, the mailbox and the loader write short English notes for the command line and the
event log: event details ("treated, meeting 2020-06-25"), why a mail was held ("auto-reply
(Auto-Submitted: auto-replied)"), what an edited process file changes ("participant added:
x"). The pages say each known form in nb or nn (innspill.i18n); the parts that are data (ids,
Message-IDs, dates, a decision's text, a server's reply) stay as they are. A note of a form not
known here is shown as it is, marked as English (`Text(lang="en")`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from innspill.dashboard.labels import (
    CHANNELS,
    MESSAGE_KINDS,
    SKIP_REASONS,
    Text,
    answered,
    fmt_date,
    label,
)
from innspill.i18n import N_, Labels, _, gettext

TREATMENT = Labels(
    {
        "pending": N_("venter på behandling"),
        "on_agenda": N_("satt på sakskartet"),
        "treated": N_("behandlet"),
    }
)
#: What of a meeting or a process changed (innspill.process.update_checks).
FIELDS = Labels(
    {
        "date": N_("dato"),
        "start": N_("start"),
        "end": N_("slutt"),
        "place": N_("sted"),
        "video_link": N_("videolenke"),
        "cancelled": N_("avlyst"),
        "deadline": N_("frist"),
        "title": N_("tittel"),
    }
)
CHANGES = Labels(
    {
        "participant added": N_("deltaker lagt til"),
        "participant removed": N_("deltaker fjernet"),
        "participant changed": N_("deltaker endret"),
        "step added": N_("steg lagt til"),
        "step removed": N_("steg fjernet"),
    }
)
CALENDAR = Labels(
    {
        "ACCEPTED": N_("takket ja"),
        "DECLINED": N_("takket nei"),
        "TENTATIVE": N_("svarte kanskje"),
        "NEEDS-ACTION": N_("har ikke svart"),
    }
)
DELIVERY = Labels({"failed": N_("feilet"), "delayed": N_("forsinket"), "delivered": N_("levert")})


def _day(text: str) -> str:
    try:
        return fmt_date(date.fromisoformat(text))
    except ValueError:
        return text


def _value(text: str) -> str:
    """A changed value: a time as a page writes it, a boolean in words, else as it is."""
    if m := re.fullmatch(r"(\d\d):(\d\d)(?::00)?", text):
        return f"{m[1]}.{m[2]}"
    if text in ("True", "False"):
        return gettext("ja") if text == "True" else gettext("nei")
    if text == "None":
        return "–"
    return _day(text)


def _treatment(m: re.Match[str]) -> str:
    said = TREATMENT.get(m[1], m[1]) or m[1]
    if m[2]:
        said += ", " + _("møte %(date)s", date=_day(m[2]))
    if m[3]:
        said += ", " + _("vedtak %(date)s: %(decision)s", date=_day(m[3]), decision=m[4])
    return said


def _change(m: re.Match[str]) -> str:
    return _(
        "%(what)s for %(step)s: %(was)s → %(now)s",
        what=FIELDS.get(m[1], m[1]),
        step=m[2],
        was=_value(m[3]),
        now=_value(m[4]),
    )


def _assigned(part: str) -> str:
    """One part of what assigning a held mail did (innspill.inbound.intake._what_it_did)."""
    if m := re.fullmatch(r"replaces version (\d+)", part):
        return _("erstatter versjon %(n)s", n=m[1])
    if m := re.fullmatch(r"received before version (\d+), which still counts", part):
        return _("mottatt før versjon %(n)s, som fortsatt gjelder", n=m[1])
    if m := re.fullmatch(r"after the step closed \((\S+)\)", part):
        return _("etter at steget ble stengt (%(date)s)", date=_day(m[1]))
    if m := re.fullmatch(r"confirmed \((\w+)\)", part):
        return _("bekreftet (%(kind)s)", kind=HELD_KINDS.get(m[1], m[1]))
    return part


HELD_KINDS = Labels(
    {
        "auto_reply": N_("automatisk svar"),
        "bounce": N_("returmelding"),
        "no_token": N_("uten nøkkel"),
        "answer": N_("svar med nøkkel"),
    }
)

#: A message kind in a note (a message_queued or message_sent event's).
_KIND = "(" + "|".join(MESSAGE_KINDS) + ")"

#: (pattern, wording): the first whose pattern matches the whole note says it.
NOTES: list[tuple[str, Callable[[re.Match[str]], str | Text]]] = [
    (
        r"version (\d+) by (\w+)",
        lambda m: _("versjon %(n)s, %(channel)s", n=m[1], channel=label(CHANNELS, m[2]).lower()),
    ),
    (
        r"version (\d+): (\d+ of \d+ answered)",
        lambda m: f"{_('versjon %(n)s', n=m[1])}: {answered(m[2])}",
    ),
    (r"version (\d+): (.+)", lambda m: _("versjon %(n)s: %(what)s", n=m[1], what=m[2])),
    (
        r"(pending|on_agenda|treated)(?:, meeting (\S+))?(?:, decided (\S+): (.*))?",
        _treatment,
    ),
    (r"attended", lambda m: gettext("møtte")),
    (r"absent", lambda m: gettext("møtte ikke")),
    (
        r"new deadline (\S+)(?:: (.*))?",
        lambda m: _("ny frist %(date)s", date=_day(m[1])) + (": " + m[2] if m[2] else ""),
    ),
    (r"from (.+)", lambda m: _("fra %(source)s", source=m[1])),
    (
        r"message (\d+)(?:: (.*))?",
        lambda m: (
            _("melding nr. %(id)s", id=m[1])
            + (": " + "; ".join(_assigned(part) for part in m[2].split("; ")) if m[2] else "")
        ),
    ),
    (
        r"(\w+) (\S+) by hand, #(\d+) (<[^>]+>)",
        lambda m: _(
            "%(kind)s sendt manuelt, melding nr. %(id)s %(message_id)s",
            kind=label(MESSAGE_KINDS, m[1]),
            id=m[3],
            message_id=m[4],
        ),
    ),
    (
        r"(\w+) #(\d+) (<[^>]+>) sent again as #(\d+) (<[^>]+>)(.*)",
        lambda m: (
            _(
                "%(kind)s nr. %(id)s sendt på nytt som nr. %(new)s %(message_id)s",
                kind=label(MESSAGE_KINDS, m[1]),
                id=m[2],
                new=m[4],
                message_id=m[5],
            )
            + m[6]
        ),
    ),
    (
        _KIND + r" (<[^>]+>)(?:: (.*))?",
        lambda m: Text(label(MESSAGE_KINDS, m[1]), code=m[2] + (f": {m[3]}" if m[3] else "")),
    ),
    (_KIND + r" (\S+)", lambda m: Text(label(MESSAGE_KINDS, m[1]), code=m[2])),
    (
        r"([A-Z-]+) \(DTSTAMP ([^,]+), SEQUENCE (\d+), ([^)]*)\)(; older.*)?",
        lambda m: (
            _("%(reply)s (%(attendee)s)", reply=CALENDAR.get(m[1], m[1]), attendee=m[4])
            + (gettext("; eldre enn svaret som alt er registrert, som gjelder") if m[5] else "")
        ),
    ),
    (r"(\w+) of (\S+): ([^;]*) -> ([^;]*)", _change),
    (
        r"deadline of (\S+): (\S+) -> (\S+)",
        lambda m: _(
            "frist for %(step)s: %(was)s → %(now)s", step=m[1], was=_day(m[2]), now=_day(m[3])
        ),
    ),
    (
        r"title: ([^;]*) -> ([^;]*)",
        lambda m: _("tittel: %(was)s → %(now)s", was=m[1], now=m[2]),
    ),
    (
        r"(participant added|participant removed|participant changed|step added|step removed): "
        r"(.+)",
        lambda m: f"{CHANGES.get(m[1], m[1])}: {m[2]}",
    ),
    (
        r"(\w+(?:, \w+)*) text of (.+)",
        lambda m: _("tekst (%(languages)s) i %(path)s", languages=m[1], path=m[2]),
    ),
    (r"and (\d+) more texts", lambda m: _("og %(n)s tekster til", n=m[1])),
    (
        r"\[archive\] added: .*",
        lambda m: gettext("[archive] lagt til: brev, svar og dokumenter får journalnummer"),
    ),
    (
        r"\[archive\] removed: .*",
        lambda m: gettext("[archive] fjernet: runden fører ikke journal"),
    ),
    (r"\[archive\] changed", lambda m: gettext("[archive] endret")),
    # why a mail was held or taken as something else (innspill.inbound.classify)
    (
        r"auto-reply \((.*)\)",
        lambda m: Text(gettext("kjent igjen på"), code=m[1]),
    ),
    (
        r"delivery status notification \((.*)\)",
        lambda m: _(
            "leveringsrapport (%(what)s)",
            what=", ".join(DELIVERY.get(a, a) or a for a in m[1].split(", ")),
        ),
    ),
    (r"bounce: (.*)", lambda m: _("retur: %(why)s", why=say(m[1]).text)),
]


def _skip(note: str) -> str | None:
    return SKIP_REASONS.get(note)


def say(note: str | None) -> Text:
    """A domain note in the request's language; one of an unknown form as it is, in English."""
    if not note:
        return Text("")
    if m := re.fullmatch(r"(.*) \(dismissed by ([^()]+)\)", note, flags=re.DOTALL):
        said = say(m[1])
        aside = _("lagt til side av %(who)s", who=m[2])
        return Text(f"{aside}: {said.text}", said.lang, said.code)
    skipped = _skip(note)
    if skipped is not None:
        return Text(skipped)
    for pattern, words in NOTES:
        match = re.fullmatch(pattern, note, flags=re.DOTALL)
        if match:
            found = words(match)
            return found if isinstance(found, Text) else Text(found)
    if "; " in note:
        return say_all(note)
    return Text(note, lang="en")


def say_all(notes: str, separator: str = "; ") -> Text:
    """Notes joined by `separator` (a process_updated event's), each said on its own."""
    said = [say(n) for n in notes.split(separator)]
    if any(t.lang for t in said):
        return Text(notes, lang="en")
    return Text(separator.join(t.text for t in said))
