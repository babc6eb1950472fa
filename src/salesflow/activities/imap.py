"""The company mailbox, read over IMAP on a schedule (``tasks.fetch_mail``, Celery beat).

The library is imap-tools: a maintained, typed wrapper of the standard library's
``imaplib`` that does the parts ``imaplib`` leaves to its caller and that are easy to get
wrong -- UID searches with a criteria builder, batched FETCH with its responses parsed into
messages and UIDs, flag changes, and errors as exceptions (a refused login is
``MailboxLoginError``, not a status string to check). It hands over the raw message bytes,
so a message goes through the same ``capture.mail_capture`` as an imported file.

What "taken" means: a message is marked with the keyword ``$SalesflowTaken`` -- never
``\\Seen``, which belongs to the people reading the mailbox (a message someone had read
in their mail program would otherwise never reach the memory) -- and only after it is
stored (or known to be stored already). Messages are fetched with ``BODY.PEEK``, so
fetching changes nothing on the server; a run that dies between storing and marking
leaves the message unmarked, and the next run finds it stored already and marks it.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _
from imap_tools import AND, BaseMailBox, MailBox, MailBoxUnencrypted, MailMessage
from imap_tools.errors import MailboxLoginError, UnexpectedCommandStatusError

from salesflow.exceptions import SalesflowError

from .capture import Outcome, mail_capture

logger = logging.getLogger(__name__)

TAKEN = "$SalesflowTaken"
FETCH_BULK = 50  # messages per FETCH command


class MailboxUnavailable(SalesflowError):
    """The mailbox cannot be read now: the server is down, refuses the login, or the
    address is wrong. Nothing was taken; the next run tries again."""

    status = 503


@dataclass(frozen=True)
class MailboxAddress:
    secure: bool
    host: str
    port: int
    user: str
    password: str
    folder: str

    @classmethod
    def parse(cls, url: str) -> MailboxAddress:
        """``imap://user:password@host:port/FOLDER`` (``imaps://`` for TLS; the folder
        defaults to INBOX, the password is URL-encoded)."""
        parts = urlsplit(url)
        if parts.scheme not in ("imap", "imaps") or not parts.hostname:
            raise MailboxUnavailable(
                _("SALESFLOW_IMAP_URL must look like imap://user:password@host:143/INBOX.")
            )
        if not parts.username or parts.password is None:
            raise MailboxUnavailable(_("SALESFLOW_IMAP_URL has no user name or password."))
        secure = parts.scheme == "imaps"
        return cls(
            secure=secure,
            host=parts.hostname,
            port=parts.port or (993 if secure else 143),
            user=unquote(parts.username),
            password=unquote(parts.password),
            folder=unquote(parts.path.lstrip("/")) or "INBOX",
        )

    def __str__(self) -> str:
        scheme = "imaps" if self.secure else "imap"
        return f"{scheme}://{self.user}@{self.host}:{self.port}/{self.folder}"


class _RawMessage(MailMessage):
    """A fetched message as its raw bytes and UID: parsed once, by ``mail_capture``."""

    def __init__(self, fetch_data: list[Any]) -> None:
        self.raw, self._raw_uid_data, self._raw_flag_data = self._get_message_data_parts(fetch_data)


@dataclass
class FetchReport:
    mailbox: str
    fetched: int = 0
    stored: int = 0
    unmatched: int = 0
    duplicates: int = 0
    left: int = 0  # not taken in this run (over the batch): the next run takes them
    problems: list[tuple[str, str]] = field(default_factory=list)  # (uid, what)


def _connect(address: MailboxAddress) -> BaseMailBox:
    timeout = settings.SALESFLOW_IMAP_TIMEOUT
    box: BaseMailBox
    try:
        if address.secure:
            box = MailBox(address.host, address.port, timeout=timeout)
        else:
            box = MailBoxUnencrypted(address.host, address.port, timeout=timeout)
    except (TimeoutError, OSError, ssl.SSLError) as exc:
        raise MailboxUnavailable(
            _("The mail server %(server)s cannot be reached: %(error)s")
            % {"server": f"{address.host}:{address.port}", "error": exc}
        ) from exc
    try:
        box.login(address.user, address.password, initial_folder=address.folder)
    except MailboxLoginError as exc:
        box.client.shutdown()
        raise MailboxUnavailable(
            _("The mail server refused the login of %(user)s: check the password.")
            % {"user": address.user}
        ) from exc
    except UnexpectedCommandStatusError as exc:
        box.logout()
        raise MailboxUnavailable(
            _("The mailbox has no folder “%(folder)s”.") % {"folder": address.folder}
        ) from exc
    return box


def _take(
    box: BaseMailBox, chunk: list[_RawMessage], address: MailboxAddress, report: FetchReport
) -> None:
    """Store a chunk of fetched messages in one transaction (each in a savepoint of its
    own: one that fails is undone alone and left unmarked), then -- committed -- mark the
    stored ones as taken on the server."""
    taken: list[str] = []
    with transaction.atomic():
        for message in chunk:
            uid = message.uid or "?"
            report.fetched += 1
            try:
                captured = mail_capture(raw=message.raw, source=f"imap:{address.folder}")
            except Exception as exc:  # noqa: BLE001 - reported; the batch goes on
                logger.exception("IMAP message %s could not be stored", uid)
                report.problems.append((uid, _("not stored: %(error)s") % {"error": exc}))
                continue
            if captured.outcome == Outcome.DUPLICATE:
                report.duplicates += 1
            elif captured.outcome == Outcome.UNMATCHED:
                report.unmatched += 1
            else:
                report.stored += 1
            report.problems.extend((uid, problem) for problem in captured.problems)
            if message.uid:
                taken.append(message.uid)
    if taken:
        box.flag(taken, TAKEN, True)


def mailbox_fetch(*, url: str | None = None, batch: int | None = None) -> FetchReport:
    """Take the messages not yet taken from the company mailbox (at most ``batch`` per
    run, oldest first): store each through ``mail_capture``, then mark the stored ones as
    taken. MailboxUnavailable when the mailbox cannot be read; a message that fails to be
    stored is reported, left unmarked (the next run tries it again) and the rest go on."""
    address = MailboxAddress.parse(url if url is not None else settings.SALESFLOW_IMAP_URL)
    batch = batch or settings.SALESFLOW_IMAP_BATCH
    report = FetchReport(mailbox=str(address))
    box = _connect(address)
    box.email_message_class = _RawMessage
    try:
        uids = box.uids(AND(no_keyword=TAKEN))
        report.left = max(0, len(uids) - batch)
        # uids[:batch] is never empty here: an empty uid_list would make fetch search ALL
        fetched = box.fetch(uid_list=uids[:batch], mark_seen=False, bulk=FETCH_BULK) if uids else []
        chunk: list[_RawMessage] = []
        for message in fetched:
            assert isinstance(message, _RawMessage)
            chunk.append(message)
            if len(chunk) >= FETCH_BULK:
                _take(box, chunk, address, report)
                chunk = []
        if chunk:
            _take(box, chunk, address, report)
    except (TimeoutError, OSError) as exc:
        raise MailboxUnavailable(
            _("The connection to the mail server broke: %(error)s") % {"error": exc}
        ) from exc
    finally:
        try:
            box.logout()
        except Exception:  # noqa: BLE001 - the server went away; nothing left to say to it
            logger.info("IMAP logout failed", exc_info=True)
    return report
