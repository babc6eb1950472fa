"""Changing the client base: intake of leads, an order's discount and its approval."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction

from salesflow.conveyor.registry import start_node
from salesflow.roles import get_roles

from .models import Client, Contact, Lead, Order


@transaction.atomic
def lead_intake(
    *,
    client: Client,
    source: str,
    request: str = "",
    contact: Contact | None = None,
    source_detail: str = "",
    created_by: User | None = None,
) -> Lead:
    """Register a lead and put it on the conveyor.

    A client the company already sells to goes straight to the account pool as a repeat
    order (``SALESFLOW_REPEAT_ORDER_NODE``) -- hunters must not "re-discover" existing
    clients; anyone else starts at the hunters' stage (``SALESFLOW_INTAKE_NODE``).
    """
    is_customer = client.status == Client.Status.CUSTOMER
    if is_customer and source not in (Lead.Source.REPEAT_ORDER, Lead.Source.REACTIVATION):
        source_detail = source_detail or str(Lead.Source(source).label)
        source = Lead.Source.REPEAT_ORDER
    lead = Lead.objects.create(
        client=client,
        contact=contact,
        source=source,
        source_detail=source_detail,
        request=request,
        created_by=created_by,
        status=Lead.Status.QUALIFIED if is_customer else Lead.Status.NEW,
    )
    node = start_node("SALESFLOW_REPEAT_ORDER_NODE" if is_customer else "SALESFLOW_INTAKE_NODE")
    node.run(lead=lead)  # an Intake node: links lead.process before the first stage exists
    lead.save(update_fields=["process"])
    return lead


def user_role_codes(user: User) -> frozenset[str]:
    """The codes of the roles the user holds (their groups), read once per user object."""
    codes = getattr(user, "_salesflow_roles", None)
    if codes is None:
        codes = frozenset(user.groups.values_list("name", flat=True))
        setattr(user, "_salesflow_roles", codes)  # noqa: B010 - a cache on the user object
    return codes


def discount_limit_for(user: User) -> Decimal:
    """The highest discount (percent) the user may grant without approval: the largest
    limit among their roles; nothing without a role that declares one."""
    roles = get_roles()
    codes = user_role_codes(user)
    limits = [
        role.discount_limit
        for code, role in roles.items()
        if code in codes and role.discount_limit is not None
    ]
    return max(limits, default=Decimal("0"))


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
