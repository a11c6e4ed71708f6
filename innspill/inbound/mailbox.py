"""Read new mail from an IMAP folder, hand each message to a callback, and mark it done."""

from __future__ import annotations

import re
import ssl
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from innspill.config.settings import Settings, TlsMode
from innspill.errors import InnspillError

#: The IMAP keyword set on a message once its handler has returned: the next run skips it.
DONE_FLAG = "$InnspillDone"
#: Where handled messages go on a server that does not keep keywords (no \* in PERMANENTFLAGS).
DONE_FOLDER = "innspill-done"


class MailboxError(InnspillError):
    """The mailbox cannot be read: connection, login or folder trouble."""


@dataclass(frozen=True)
class Fetched:
    """One message read from the folder."""

    uid: str  # "UIDVALIDITY:UID": unique for as long as the folder exists
    raw: bytes  # the full RFC 822 message, as the server stores it
    received_at: datetime | None  # the server's INTERNALDATE, aware UTC


@dataclass
class FetchReport:
    """What one run did: handled, failed (uid: error), and still waiting in the folder."""

    source: str
    handled: int = 0
    failed: list[str] = field(default_factory=list)
    remaining: int = 0


Handler = Callable[[Fetched], None]


def imap_port(settings: Settings) -> int:
    """The configured port, or the usual one for the TLS mode."""
    if settings.imap_port:
        return settings.imap_port
    return 993 if settings.imap_tls == TlsMode.TLS else 143


def source_name(settings: Settings) -> str:
    """The name imported messages are keyed by, with their uid: imap://host:port/folder."""
    return f"imap://{settings.imap_host}:{imap_port(settings)}/{settings.imap_folder}"


def fetch_new(
    settings: Settings, handle: Handler, *, batch: int = 100, limit: int | None = None
) -> FetchReport:
    """Hand every message not yet marked done to `handle`, in UID order, and mark it done.

    A message is marked only after `handle` returned; one whose handler raised stays unmarked
    (it comes again next run) and is named in the report. The handler must be idempotent: a
    crash between handling and marking hands the message over again.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    report = FetchReport(source=source_name(settings))
    with _connected(settings) as client:
        folder = _Folder(client, _where(settings))
        folder.open(settings.imap_folder)
        uids = folder.pending()
        todo = uids if limit is None else uids[: max(limit, 0)]
        for start in range(0, len(todo), batch):
            folder.run_batch(todo[start : start + batch], handle, report)
        report.remaining = len(folder.pending())
    return report


class _Folder:
    """The selected folder, and how done messages are marked in it (keyword, or a move)."""

    def __init__(self, client: IMAPClient, where: str):
        self.client = client
        self.where = where
        self.validity = 0
        self.keywords = True

    def open(self, name: str) -> None:
        try:
            selected = self.client.select_folder(name)
            self.validity = int(selected[b"UIDVALIDITY"])
            self.keywords = b"\\*" in tuple(selected.get(b"PERMANENTFLAGS", ()))
            if not self.keywords:
                self._prepare_moving()
        except (IMAPClientError, OSError) as exc:
            raise MailboxError(f"cannot open {self.where}: {_describe(exc)}") from exc

    def _prepare_moving(self) -> None:
        """Without keywords, done messages are moved to DONE_FOLDER instead."""
        if not (self.client.has_capability("MOVE") or self.client.has_capability("UIDPLUS")):
            raise MailboxError(
                f"{self.where} keeps no keywords (PERMANENTFLAGS lacks \\*) and the server can "
                "neither MOVE nor UID EXPUNGE: handled messages cannot be marked done"
            )
        if not self.client.folder_exists(DONE_FOLDER):
            self.client.create_folder(DONE_FOLDER)

    def pending(self) -> list[int]:
        """UIDs not yet marked done, in ascending order."""
        criteria = ["NOT", "KEYWORD", DONE_FLAG] if self.keywords else ["ALL"]
        try:
            return sorted(int(uid) for uid in self.client.search(criteria))
        except (IMAPClientError, OSError) as exc:
            raise MailboxError(f"cannot search {self.where}: {_describe(exc)}") from exc

    def run_batch(self, uids: Sequence[int], handle: Handler, report: FetchReport) -> None:
        try:
            self.client.normalise_times = False  # aware datetimes, converted to UTC below
            data = self.client.fetch(uids, ["BODY.PEEK[]", "INTERNALDATE"])
        except (IMAPClientError, OSError) as exc:
            raise MailboxError(f"cannot fetch from {self.where}: {_describe(exc)}") from exc
        done: list[int] = []
        try:
            for uid in uids:
                item = data.get(uid)
                if item is None or b"BODY[]" not in item:
                    continue  # expunged by another client since the search
                fetched = Fetched(f"{self.validity}:{uid}", bytes(item[b"BODY[]"]), _utc(item))
                try:
                    handle(fetched)
                except Exception as exc:  # reported; the message comes again next run
                    report.failed.append(f"{fetched.uid}: {type(exc).__name__}: {_describe(exc)}")
                    continue
                done.append(uid)
                report.handled += 1
        finally:
            # Also when something fatal escaped a handler: what was handled gets marked.
            if done:
                self.mark_done(done)

    def mark_done(self, uids: list[int]) -> None:
        try:
            if self.keywords:
                self.client.add_flags(uids, [DONE_FLAG], silent=True)
            elif self.client.has_capability("MOVE"):
                self.client.move(uids, DONE_FOLDER)
            else:
                self.client.copy(uids, DONE_FOLDER)
                self.client.add_flags(uids, [b"\\Deleted"], silent=True)
                self.client.uid_expunge(uids)
        except (IMAPClientError, OSError) as exc:
            raise MailboxError(
                f"handled {len(uids)} message(s) but cannot mark them done in {self.where}: "
                f"{_describe(exc)} (they are handed over again next run)"
            ) from exc


@contextmanager
def _connected(settings: Settings) -> Iterator[IMAPClient]:
    """A logged-in client; every way of failing becomes a MailboxError naming the server."""
    if not settings.imap_host:
        raise MailboxError("no mailbox is configured (set INNSPILL_IMAP_HOST)")
    where = _where(settings)
    tls = settings.imap_tls
    context = ssl.create_default_context() if tls != TlsMode.NONE else None
    try:
        client = IMAPClient(
            settings.imap_host,
            port=imap_port(settings),
            ssl=tls == TlsMode.TLS,
            ssl_context=context,
            timeout=settings.imap_timeout,
        )
    except (IMAPClientError, OSError) as exc:
        raise MailboxError(f"cannot connect to {where}: {_describe(exc)}") from exc
    try:
        try:
            if tls == TlsMode.STARTTLS:
                client.starttls(context)
            client.login(
                settings.imap_username or "",
                settings.imap_password.get_secret_value() if settings.imap_password else "",
            )
        except LoginError as exc:
            raise MailboxError(
                f"login as {settings.imap_username!r} refused by {where}: {_describe(exc)}"
            ) from exc
        except (IMAPClientError, OSError) as exc:
            raise MailboxError(f"cannot log in to {where}: {_describe(exc)}") from exc
        yield client
    finally:
        _close(client)


def _close(client: IMAPClient) -> None:
    try:
        client.logout()
    except (IMAPClientError, OSError):
        with suppress(IMAPClientError, OSError):  # the connection is gone already
            client.shutdown()


def _utc(item: dict[bytes, Any]) -> datetime | None:
    value = item.get(b"INTERNALDATE")
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:  # cannot happen with normalise_times off; be safe
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _where(settings: Settings) -> str:
    return f"IMAP {settings.imap_host}:{imap_port(settings)} folder {settings.imap_folder!r}"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError
        return "timed out"
    text = str(exc).strip() or type(exc).__name__
    # imaplib puts the server's bytes in its errors: b'[AUTHENTICATIONFAILED] ...'
    text = re.sub(r"""\bb(['"])(.*?)\1""", r"\2", text)
    return " ".join(text.split())[:500]
