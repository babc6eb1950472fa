"""Changing the client base: contacts revealed, the base exported, duplicate clients
merged, an order's discount.

Leads coming in and deals starting are the intake's (``salesflow.intake.services``): it
sits above both the client base and the conveyor.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from salesflow.audit.models import AuditEvent
from salesflow.audit.services import audit_record
from salesflow.exceptions import NotFound, NotPermitted
from salesflow.handoff.models import HandoffNote
from salesflow.models import EXPORT_CLIENTS
from salesflow.roles import discount_limit_for

from . import selectors
from .models import Client, Contact, DuplicateReview, Lead, Order, ProcessSubject
from .selectors import ContactCard

if TYPE_CHECKING:
    from decimal import Decimal

    from django.contrib.auth.models import User


# --- duplicates --------------------------------------------------------------------------


def client_merge(*, source: Client, target: Client) -> dict[int, int]:
    """Move ``source``'s contacts, leads and handoff notes to ``target`` and mark ``source``
    merged into it (kept: the audit trail may refer to it); returns the ids of source
    contacts replaced by a known contact of the target. Call inside a transaction."""
    known: dict[str, int] = {}
    for contact in target.contacts.all():
        for key in (contact.phone_key, contact.email_key):
            if key:
                known.setdefault(key, contact.pk)
    replaced: dict[int, int] = {}
    for contact in source.contacts.all():
        same = known.get(contact.email_key) or known.get(contact.phone_key)
        if same is not None:
            replaced[contact.pk] = same
    if replaced:
        for old, new in replaced.items():
            Lead.objects.filter(contact_id=old).update(contact_id=new)
    Contact.objects.filter(client=source).exclude(pk__in=replaced).update(client=target)
    Lead.objects.filter(client=source).update(client=target)
    HandoffNote.objects.filter(client=source).update(client=target)
    ProcessSubject.objects.filter(client=source).update(client=target)
    DuplicateReview.objects.filter(candidate=source, decided__isnull=True).update(candidate=target)
    filled = [
        name
        for name in ("legal_name", "tax_number", "legal_address", "bank_details", "website")
        if getattr(source, name) and not getattr(target, name)
    ]
    if "tax_number" in filled:  # unique: the merged client gives its tax number up
        tax_number = source.tax_number
        source.tax_number = ""
        source.save(update_fields=["tax_number"])
        target.tax_number = tax_number
    for name in filled:
        if name != "tax_number":
            setattr(target, name, getattr(source, name))
    if filled:
        target.save(update_fields=filled)
    source.merged_into = target
    source.save(update_fields=["merged_into"])
    return replaced


# --- protected contacts ------------------------------------------------------------------


@transaction.atomic
def contact_reveal(*, contact_id: int, user: User) -> ContactCard:
    """Show one contact's phone and e-mail in full to a user entitled to them (who holds a
    task of the client's, or whose role declares the fields), recording one REVEAL audit
    event naming the fields. Refuses everyone else, writing nothing."""
    contact = selectors.contact_with_client(contact_id=contact_id)
    if contact is None:
        raise NotFound(_("Contact #%(id)s does not exist.") % {"id": contact_id})
    entitlement = selectors.contact_entitlement(user=user, client_id=contact.client_id)
    fields = sorted(name for name in entitlement.revealable if getattr(contact, name))
    if not entitlement.revealable:
        raise NotPermitted(
            _(
                "Only a person working on this client (holding one of its tasks) or in a role "
                "that needs its contacts may see them."
            )
        )
    audit_record(
        action=AuditEvent.Action.REVEAL,
        actor=user,
        client_id=contact.client_id,
        data={"contact": contact.pk, "fields": fields},
    )
    return ContactCard.of(contact, entitlement, revealed=fields)


EXPORT_COLUMNS = (
    "client_id", "client", "status", "legal_name", "tax_number", "legal_address", "website",
    "contact", "position", "phone", "email", "decision_maker",
)  # fmt: skip


def clients_export(*, user: User) -> Iterator[str]:
    """The whole client base as CSV lines (one per contact; a client without contacts gets
    one line), streamed. Needs the export permission (admins by default); records one
    EXPORT audit event -- committed before the first line is produced."""
    if not user.is_active or not user.has_perm(EXPORT_CLIENTS):
        raise NotPermitted(_("Exporting the client base needs the export permission."))
    clients = selectors.clients_for_export()
    audit_record(
        action=AuditEvent.Action.EXPORT,
        actor=user,
        reason=_("CSV export of the client base"),
        data={"clients": clients.count()},
    )
    return _csv_lines(clients)


def _csv_lines(clients: QuerySet[Client]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(row: Sequence[object]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(row)
        return buffer.getvalue()

    yield line(EXPORT_COLUMNS)
    for client in clients.iterator(chunk_size=500):
        head = [
            client.pk, client.name, client.status, client.legal_name, client.tax_number,
            client.legal_address, client.website,
        ]  # fmt: skip
        contacts = list(client.contacts.all())
        if not contacts:
            yield line([*head, "", "", "", "", ""])
        for contact in contacts:
            yield line(
                [
                    *head,
                    contact.name,
                    contact.position,
                    contact.phone,
                    contact.email,
                    "yes" if contact.is_decision_maker else "",
                ]
            )


# --- orders --------------------------------------------------------------------------------


def order_set_discount(*, order: Order, discount: Decimal, user: User) -> list[str]:
    """Set the discount granted by ``user``; over their limit it needs a team lead's
    approval, and a changed discount loses an earlier approval. Returns the changed fields
    (the caller saves)."""
    changed = []
    if order.discount != discount:
        order.discount = discount
        order.discount_approved_by = None
        changed += ["discount", "discount_approved_by"]
    needs_approval = (
        order.discount > discount_limit_for(user) and order.discount_approved_by_id is None
    )
    if needs_approval != order.discount_needs_approval:
        order.discount_needs_approval = needs_approval
        changed.append("discount_needs_approval")
    return changed


def order_approve_discount(*, order: Order, user: User) -> None:
    order.discount_approved_by = user
    order.discount_needs_approval = False
    order.save(update_fields=["discount_approved_by", "discount_needs_approval"])
