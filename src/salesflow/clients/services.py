"""Changing the client base: contacts revealed, the base exported, duplicate clients
merged, a lead's unverified contact confirmed, an order's discount.

Leads coming in and deals starting are the intake's (``salesflow.intake.services``): it
sits above both the client base and the conveyor.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from defusedcsv import csv
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from salesflow.audit.models import AuditEvent
from salesflow.audit.services import audit_record
from salesflow.exceptions import ClaimConflict, NotFound, NotPermitted, StageInvalid
from salesflow.handoff.models import HandoffNote
from salesflow.models import EXPORT_CLIENTS, MERGE_CLIENTS
from salesflow.roles import discount_limit_for
from salesflow.watch import services as watch

from . import normalize, selectors
from .models import Client, Contact, DuplicateReview, Lead, Order, ProcessSubject
from .selectors import ContactCard

if TYPE_CHECKING:
    from decimal import Decimal

    from django.contrib.auth.models import User
    from viewflow.workflow.models import Task


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
def contact_reveal(*, contact_id: int, user: User, task: Task | None = None) -> ContactCard:
    """Show one contact's phone and e-mail in full to a user entitled to them -- who holds
    a task of the client's, or whose role declares the fields -- recording one REVEAL
    audit event naming the fields, the client, and the task that is its reason (``task``,
    or the user's oldest task of the client; none for a role's reveal).

    Refuses, writing nothing: no such contact; a ``task`` that is not the user's active
    task of this client; a user not entitled; a user whose reveals the leak watch has
    suspended. A reveal over the user's daily limit alerts the team leads
    (``salesflow.watch``)."""
    contact = selectors.contact_with_client(contact_id=contact_id)
    if contact is None:
        raise NotFound(_("Contact #%(id)s does not exist.") % {"id": contact_id})
    held = selectors.held_tasks(user=user, client_id=contact.client_id)
    if task is not None and not held.filter(pk=task.pk).exists():
        raise NotPermitted(
            _("Task #%(id)s is not a task of yours for this client.") % {"id": task.pk}
        )
    entitlement = selectors.contact_entitlement(user=user, client_id=contact.client_id)
    if not entitlement.revealable:
        raise NotPermitted(
            _(
                "Only a person working on this client (holding one of its tasks) or in a role "
                "that needs its contacts may see them."
            )
        )
    watch.reveals_allowed(user=user)
    reason_task = task if task is not None else (held.first() if entitlement.holds_task else None)
    fields = sorted(name for name in entitlement.revealable if getattr(contact, name))
    audit_record(
        action=AuditEvent.Action.REVEAL,
        actor=user,
        task=reason_task,
        client_id=contact.client_id,
        reason=_("working on task #%(id)s") % {"id": reason_task.pk} if reason_task else "",
        data={"contact": contact.pk, "fields": fields},
    )
    watch.leak_check(user=user, kind=watch.REVEALS)
    return ContactCard.of(contact, entitlement, revealed=fields)


@transaction.atomic
def lead_contact_confirm(*, lead_id: int, user: User) -> Contact:
    """A person confirms the contact an unauthenticated lead (the public web form) gave for
    a client the company already had: it becomes one of the client's contacts (or the
    known contact with that phone or e-mail), the lead's contact. Until then it is kept
    on the lead only -- anybody can type a phone into the form next to a known tax number.

    For the holder of one of the client's tasks and whoever decides duplicates; one
    CONFIRM_CONTACT audit event. Refuses, writing nothing, otherwise."""
    lead = selectors.lead_with_client(lead_id=lead_id)
    if lead is None:
        raise NotFound(_("Lead #%(id)s does not exist.") % {"id": lead_id})
    if not (
        selectors.holds_active_task(user=user, client_id=lead.client_id)
        or (user.is_active and user.has_perm(MERGE_CLIENTS))
    ):
        raise NotPermitted(
            _("Only the person working on this client or a team lead can confirm its contacts.")
        )
    given: dict[str, Any] = dict(lead.unverified_contact or {})
    if not given:
        raise ClaimConflict(_("This lead has no unverified contact to confirm."))
    contact = _known_or_new_contact(lead.client, given)
    lead.contact = contact
    lead.unverified_contact = {}
    lead.save(update_fields=["contact", "unverified_contact"])
    audit_record(
        action=AuditEvent.Action.CONFIRM_CONTACT,
        actor=user,
        process_id=lead.process_id,
        client_id=lead.client_id,
        data={"lead": lead.pk, "contact": contact.pk},
    )
    return contact


def _known_or_new_contact(client: Client, given: dict[str, Any]) -> Contact:
    phone, email = str(given.get("phone", "")), str(given.get("email", ""))
    keys = (("email_key", normalize.email_key(email)), ("phone_key", normalize.phone_key(phone)))
    for key, value in keys:
        if value:
            known = client.contacts.filter(**{key: value}).order_by("pk").first()
            if known is not None:
                return known
    return Contact.objects.create(
        client=client,
        name=str(given.get("name") or email or phone)[:200],
        position=str(given.get("position", ""))[:200],
        phone=phone[:50],
        email=email[:254],
    )


EXPORT_COLUMNS = (
    "client_id", "client", "status", "legal_name", "tax_number", "legal_address", "website",
    "contact", "position", "phone", "email", "decision_maker",
)  # fmt: skip


def clients_export(*, user: User) -> Iterator[str]:
    """The whole client base as CSV lines (one per contact; a client without contacts gets
    one line), streamed. Needs the export permission (admins by default); records one
    EXPORT audit event -- committed before the first line is produced -- and counts
    toward the person's daily exports (``salesflow.watch``).

    Cells that a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``,
    ``@``: a company name from the public form can be anything) are written as text
    (defusedcsv prefixes them with an apostrophe)."""
    if not user.is_active or not user.has_perm(EXPORT_CLIENTS):
        raise NotPermitted(_("Exporting the client base needs the export permission."))
    clients = selectors.clients_for_export()
    with transaction.atomic():
        audit_record(
            action=AuditEvent.Action.EXPORT,
            actor=user,
            reason=_("CSV export of the client base"),
            data={"clients": clients.count(), "format": "csv"},
        )
        watch.leak_check(user=user, kind=watch.EXPORTS)
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


def order_set_discount(
    *, order: Order, discount: Decimal, user: User, stage: str | None = None
) -> list[str]:
    """Set the discount granted by ``user`` at ``stage`` (a node reference); over their
    limit -- that of their roles performing the stage, not the largest of all their roles
    (``roles.discount_limit_for``) -- it needs a team lead's approval, and a changed
    discount loses an earlier approval. Returns the changed fields (the caller saves)."""
    changed = []
    if order.discount != discount:
        order.discount = discount
        order.discount_approved_by = None
        changed += ["discount", "discount_approved_by"]
    needs_approval = (
        order.discount > discount_limit_for(user, node_ref=stage)
        and order.discount_approved_by_id is None
    )
    if needs_approval != order.discount_needs_approval:
        order.discount_needs_approval = needs_approval
        changed.append("discount_needs_approval")
    return changed


def order_approve_discount(*, order: Order, user: User) -> None:
    order.discount_approved_by = user
    order.discount_needs_approval = False
    order.save(update_fields=["discount_approved_by", "discount_needs_approval"])


# --- fixing a card ---------------------------------------------------------------------------

CARD_FIELDS = ("tax_number", "legal_name", "legal_address", "bank_details", "website")


@transaction.atomic
def client_card_fix(
    *,
    client_id: int,
    user: User,
    changes: dict[str, str],
    decision_maker_id: int | None = None,
    task: Task | None = None,
    reason: str = "",
) -> Client:
    """Fix a client's card (the database operator's work, or anyone's whose task it is):
    the fields of ``changes`` (``CARD_FIELDS`` only) and, with ``decision_maker_id``, which
    of its contacts decides. One DATA_FIX audit event with what was and what is, like any
    change to a card; a refusal -- an unknown field, a tax number another client has, a
    contact of another client, a merged card -- writes nothing. The caller checks that
    ``user`` may (their task, or a role that keeps the base)."""
    client = Client.objects.select_for_update().filter(pk=client_id).first()
    if client is None:
        raise NotFound(_("Client #%(id)s does not exist.") % {"id": client_id})
    if client.merged_into_id is not None:
        raise ClaimConflict(
            _("%(client)s was merged into another client; fix that one.") % {"client": client}
        )
    errors: dict[str, list[str]] = {}
    for name in changes:
        if name not in CARD_FIELDS:
            errors[name] = [_("Not a field of the card that can be fixed here.")]
    cleaned = {name: str(value).strip() for name, value in changes.items()}
    tax = cleaned.get("tax_number")
    if tax:
        key = normalize.tax_key(tax)
        if not key:
            errors["tax_number"] = [_("A tax number is made of digits.")]
        elif Client.objects.filter(tax_key=key).exclude(pk=client.pk).exists():
            errors["tax_number"] = [
                _("Another client has this tax number: a probable duplicate, not a fix.")
            ]
    contact = None
    if decision_maker_id is not None:
        contact = Contact.objects.filter(pk=decision_maker_id, client=client).first()
        if contact is None:
            errors["decision_maker"] = [_("That contact is not at this client.")]
    if errors:
        raise StageInvalid(_("The card was not changed: check the fields marked."), errors=errors)
    before = {name: getattr(client, name) for name in cleaned}
    changed = [name for name in cleaned if before[name] != cleaned[name]]
    for name in changed:
        setattr(client, name, cleaned[name])
    if changed:
        client.save(update_fields=changed)
    if contact is not None and not contact.is_decision_maker:
        contact.is_decision_maker = True
        contact.save(update_fields=["is_decision_maker"])
        changed.append("decision_maker")
    audit_record(
        action=AuditEvent.Action.DATA_FIX,
        actor=user,
        task=task,
        client_id=client.pk,
        reason=reason[:500],
        data={
            "changed": changed,
            "before": {name: before[name] for name in changed if name in before},
            "after": {name: cleaned[name] for name in changed if name in cleaned},
            "decision_maker": contact.pk if contact is not None else None,
        },
    )
    return client
