"""Mail joins the company's memory: one path for every message, whether the company
mailbox delivered it (``imap``), a mailbox file was imported (a leaving manager's export),
or the product sent it from a task.

``mail_capture`` stores a message once -- by its Message-ID, or one made from its content
when it has none -- with its thread, its text and sanitised HTML, and its attachments up to
``SALESFLOW_MAIL_ATTACHMENT_MAX_BYTES``; and puts it on the timeline of every client whose
contact's address is on it (the intake's normalised e-mail keys). A message that matches no
client is kept too, on the triage list; one that cannot even be read as a message is kept
as its raw file there, with the reason. Nothing is lost and nothing is stored twice: the
same message again -- a second fetch, the same file imported twice, two workers at once --
is answered "duplicate" and changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
import mailbox
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import make_msgid
from enum import StrEnum
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task

from salesflow.clients.models import Client, Contact, Lead
from salesflow.clients.normalize import email_key
from salesflow.conveyor.selectors import lead_of, process_client_id
from salesflow.exceptions import NotFound, NotPermitted, SalesflowError
from salesflow.queues.selectors import IN_WORK

from .mail import MailUnreadable, ParsedAttachment, ParsedMail, message_id_of, parse_mail
from .models import Activity, MailAttachment, MailMessage

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

IMPORT_CHUNK = 100  # messages per transaction of an import


class Outcome(StrEnum):
    STORED = "stored"  # on the timeline of the clients it concerns
    UNMATCHED = "unmatched"  # kept on the triage list: no contact's address is on it
    DUPLICATE = "duplicate"  # stored before: nothing changed


@dataclass(frozen=True)
class Captured:
    outcome: Outcome
    message_id: str
    mail_id: int | None
    client_ids: tuple[int, ...] = ()
    problems: tuple[str, ...] = ()


def company_domains() -> frozenset[str]:
    return frozenset(d.strip().lower().lstrip("@") for d in settings.SALESFLOW_MAIL_COMPANY_DOMAINS)


def is_company_address(address: str, domains: frozenset[str]) -> bool:
    return address.rpartition("@")[2].lower() in domains


def mail_capture(
    *,
    raw: bytes,
    source: str,
    origin: str = Activity.Source.MAILBOX,
    author: User | None = None,
    task: Task | None = None,
    lead: Lead | None = None,
) -> Captured:
    """Store one message (its own transaction) and put it on its clients' timelines.

    ``source`` says where it came from (the mailbox and folder, the file); ``origin`` is
    the ``Activity.Source``; ``author``/``task``/``lead`` are given for mail the product
    sent. Never raises for what the message contains: an unreadable one is kept on the
    triage list with the reason."""
    known_id = message_id_of(raw)
    if known_id is not None and MailMessage.objects.filter(message_id=known_id).exists():
        return Captured(Outcome.DUPLICATE, known_id, None)
    try:
        parsed = parse_mail(raw)
    except MailUnreadable as unreadable:
        parsed = _unreadable(raw, unreadable.message)
    domains = company_domains()
    try:
        with transaction.atomic():
            if parsed.message_id != known_id and (
                MailMessage.objects.filter(message_id=parsed.message_id).exists()
            ):  # a made-up Message-ID: known only now
                return Captured(Outcome.DUPLICATE, parsed.message_id, None)
            return _store(parsed, source, origin, domains, author=author, task=task, lead=lead)
    except IntegrityError:  # the same message stored meanwhile by another worker
        if not MailMessage.objects.filter(message_id=parsed.message_id).exists():
            raise
        return Captured(Outcome.DUPLICATE, parsed.message_id, None)


def _unreadable(raw: bytes, reason: str) -> ParsedMail:
    digest = hashlib.sha256(raw).hexdigest()
    return ParsedMail(
        message_id=f"<{digest}@unreadable.salesflow.invalid>",
        in_reply_to="",
        references=[],
        subject=_("(a message that could not be read)"),
        from_name="",
        from_address="",
        to=[],
        cc=[],
        sent=timezone.now(),
        text="",
        html="",
        attachments=[ParsedAttachment("message.eml", "message/rfc822", raw)],
        size=len(raw),
        problems=[reason],
    )


def _store(
    parsed: ParsedMail,
    source: str,
    origin: str,
    domains: frozenset[str],
    *,
    author: User | None,
    task: Task | None,
    lead: Lead | None,
) -> Captured:
    outgoing = bool(parsed.from_address) and (
        is_company_address(parsed.from_address, domains) or author is not None
    )
    direction = Activity.Direction.OUT if outgoing else Activity.Direction.IN
    if outgoing and author is None:
        author = (
            get_user_model()
            ._default_manager.filter(email__iexact=parsed.from_address)
            .order_by("-is_active", "pk")
            .first()
        )
    theirs = [
        email_key(a) for a in parsed.addresses if not is_company_address(a, domains)
    ]  # fmt: skip
    contacts: dict[int, Contact] = {}  # client id -> its first contact on the message
    for contact in (
        Contact.objects.filter(email_key__in=theirs, client__merged_into__isnull=True)
        .only("pk", "client_id", "email", "email_key")
        .order_by("client_id", "pk")
    ):
        contacts.setdefault(contact.client_id, contact)
    thread_key = parsed.thread_key
    if parsed.in_reply_to:
        parent_thread = (
            MailMessage.objects.filter(message_id=parsed.in_reply_to)
            .values_list("thread_key", flat=True)
            .first()
        )
        thread_key = parent_thread or thread_key
    limit = settings.SALESFLOW_MAIL_ATTACHMENT_MAX_BYTES
    mail = MailMessage.objects.create(
        message_id=parsed.message_id,
        thread_key=thread_key[:500],
        in_reply_to=parsed.in_reply_to,
        subject=parsed.subject,
        from_address=parsed.from_address,
        from_name=parsed.from_name,
        to_addresses=parsed.to,
        cc_addresses=parsed.cc,
        sent=parsed.sent,
        direction=direction,
        text_body=parsed.text,
        html_body=parsed.html,
        size=parsed.size,
        attachment_count=len(parsed.attachments),
        problems="\n".join(parsed.problems),
        source=source[:300],
    )
    MailAttachment.objects.bulk_create(
        [
            MailAttachment(
                mail=mail,
                filename=attachment.filename,
                content_type=attachment.content_type,
                size=len(attachment.content),
                content=attachment.content if len(attachment.content) <= limit else None,
                skipped=""
                if len(attachment.content) <= limit
                else _("%(size)s, over the limit of %(limit)s")
                % {"size": filesizeformat(len(attachment.content)), "limit": filesizeformat(limit)},
            )
            for attachment in parsed.attachments
        ]
    )
    counterpart = parsed.from_address if not outgoing else (parsed.to[:1] or [""])[0]
    common = {
        "kind": Activity.Kind.EMAIL,
        "direction": direction,
        "source": origin,
        "author": author,
        "occurred": parsed.sent,
        "subject": parsed.subject[:300],
        "mail": mail,
        "task": task,
    }
    if contacts:
        Activity.objects.bulk_create(
            [
                Activity(
                    client_id=client_id,
                    contact=contact,
                    counterpart=contact.email[:254],
                    lead=lead if lead is not None and lead.client_id == client_id else None,
                    **common,
                )
                for client_id, contact in contacts.items()
            ]
        )
        outcome = Outcome.STORED
    else:
        Activity.objects.create(client=None, counterpart=counterpart[:254], **common)
        outcome = Outcome.UNMATCHED
    return Captured(outcome, parsed.message_id, mail.pk, tuple(contacts), tuple(parsed.problems))


# --- mailbox files ---------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What importing a mailbox file did; ``problems`` lists the messages read with
    problems (by their position in the file) and why."""

    path: str
    kind: str
    read: int = 0
    stored: int = 0
    unmatched: int = 0
    duplicates: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)

    def count(self, where: str, captured: Captured | str) -> None:
        """One message's outcome (or the reason it was not stored)."""
        self.read += 1
        if isinstance(captured, str):
            self.problems.append((where, captured))
            return
        if captured.outcome == Outcome.DUPLICATE:
            self.duplicates += 1
        elif captured.outcome == Outcome.UNMATCHED:
            self.unmatched += 1
        else:
            self.stored += 1
        self.problems.extend((where, problem) for problem in captured.problems)


def mailbox_open(path: Path) -> tuple[str, mailbox.Mailbox]:
    """An mbox file or a Maildir directory, or SalesflowError saying why it is neither."""
    if path.is_dir():
        if all((path / sub).is_dir() for sub in ("cur", "new", "tmp")):
            return "maildir", mailbox.Maildir(path, factory=None, create=False)
        raise SalesflowError(
            _("%(path)s is a directory but not a Maildir (it needs cur/, new/ and tmp/).")
            % {"path": path}
        )
    if not path.is_file():
        raise NotFound(_("%(path)s does not exist.") % {"path": path})
    with path.open("rb") as handle:
        first = handle.readline()
    if not first.startswith(b"From "):
        raise SalesflowError(
            _(
                "%(path)s is not an mbox file: its first line must start with “From ” (a "
                "Maildir is a directory with cur/, new/ and tmp/)."
            )
            % {"path": path}
        )
    return "mbox", mailbox.mbox(path, factory=None, create=False)


def _messages(box: mailbox.Mailbox, prefix: str = "") -> Iterator[tuple[str, bytes]]:
    for key in box.iterkeys():
        yield f"{prefix}{key}", box.get_bytes(key)
    if isinstance(box, mailbox.Maildir):
        for folder in box.list_folders():
            yield from _messages(box.get_folder(folder), prefix=f"{prefix}{folder}/")


def mail_import_file(*, path: Path) -> ImportReport:
    """Every message of an mbox file or a Maildir (and its folders) through
    ``mail_capture``; a message that cannot be stored is reported and the rest go on."""
    kind, box = mailbox_open(path)
    report = ImportReport(path=str(path), kind=kind)
    source = f"{kind}:{path.name}"
    messages = enumerate(_messages(box), start=1)
    try:
        while True:
            # a hundred messages per commit (each in a savepoint of its own: one that
            # fails is undone alone) -- a commit per message made the disk the bottleneck
            chunk = list(islice(messages, IMPORT_CHUNK))
            if not chunk:
                break
            with transaction.atomic():
                for number, (key, raw) in chunk:
                    where = key if kind == "maildir" else str(number)
                    report.count(where, _capture_reported(raw, source, where, path))
    finally:
        box.close()
    return report


def _capture_reported(raw: bytes, source: str, where: str, path: Path) -> Captured | str:
    try:
        return mail_capture(raw=raw, source=source, origin=Activity.Source.IMPORT)
    except Exception as exc:  # noqa: BLE001 - reported; the rest of the file goes on
        logger.exception("%s: message %s could not be stored", path, where)
        return _("not stored: %(error)s") % {"error": exc}


# --- mail sent from the product ---------------------------------------------------------------


def mail_send(*, task: Task, user: User, contact_id: int, subject: str, text: str) -> Captured:
    """Write to a client's contact from a task, as the company's address: the message is
    sent, then logged on the client's timeline like any other (``mail_capture``). The
    task's owner only; the address never has to be shown to them. Refuses, sending and
    writing nothing, a contact of another client or without an address, and an empty
    message; a mail server that refuses it is an error, and nothing is logged."""
    if task.owner_id != user.pk or task.status not in IN_WORK:
        raise NotPermitted(_("Write to a client from a task you are working on."))
    client_id = process_client_id(task.process)
    contact = Contact.objects.filter(pk=contact_id).first()
    errors: dict[str, list[str]] = {}
    if contact is None or contact.client_id != client_id:
        errors["contact"] = [_("Choose one of this client's contacts.")]
    elif not contact.email:
        errors["contact"] = [_("%(name)s has no e-mail address.") % {"name": contact.name}]
    if not subject.strip():
        errors["subject"] = [_("Give the message a subject.")]
    if not text.strip():
        errors["text"] = [_("The message is empty.")]
    if errors or contact is None or client_id is None:
        raise SalesflowError(_("The message was not sent: check the fields marked."), errors=errors)
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or None
    message = EmailMessage(
        subject=subject.strip(),
        body=text.strip(),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[contact.email],
        headers={"Message-ID": make_msgid(domain=domain)},
    )
    try:
        message.send()
    except OSError as exc:
        raise SalesflowError(
            _("The mail server did not take the message: %(error)s") % {"error": exc}
        ) from exc
    client = Client.objects.get(pk=client_id)
    logger.info("mail to a contact of client %s sent from task %s", client.pk, task.pk)
    return mail_capture(
        raw=message.message().as_bytes(),
        source="salesflow",
        origin=Activity.Source.PRODUCT,
        author=user,
        task=task,
        lead=lead_of(task),
    )
