"""What each stage of the conveyor writes. Called by the engine's ``stage_complete``
inside its transaction, with the stage's validated data."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from salesflow.activities.reminders import reminder_due_end, reminder_for_process
from salesflow.activities.services import activity_log
from salesflow.clients.models import Client, Lead, Order
from salesflow.clients.services import order_set_discount
from salesflow.conveyor.registry import node_ref
from salesflow.conveyor.services import stage_move
from salesflow.conveyor.stage import StageWork
from salesflow.exceptions import StageInvalid
from salesflow.intake.services import lead_intake
from salesflow.queues.terms import Priority

# An order this large is worth anyone's attention first.
LARGE_ORDER = Decimal("1000000")


def _lead(work: StageWork) -> Lead:
    """The deal a conveyor stage works on (every conveyor process is one)."""
    if work.lead is None:
        raise ValueError(f"task #{work.task.pk} is not on a deal")
    return work.lead


def _order(work: StageWork) -> Order:
    """The deal's order (the stages after the order's preparation have one)."""
    if work.order is None:
        raise ValueError(f"task #{work.task.pk}: the deal has no order yet")
    return work.order


def qualify(*, work: StageWork, data: dict[str, Any]) -> None:
    lead = _lead(work)
    lead.status = data["outcome"]
    lead.disqualification_reason = (
        data["disqualification_reason"].strip() if lead.status == Lead.Status.DISQUALIFIED else ""
    )
    lead.nurture_until = data["nurture_until"] if lead.status == Lead.Status.NURTURE else None
    lead.save(update_fields=["status", "disqualification_reason", "nurture_until"])


def prepare_order(*, work: StageWork, data: dict[str, Any]) -> None:
    if data["outcome"] == "no_order":
        lead = _lead(work)
        lead.status = Lead.Status.LOST
        lead.lost_reason = data["lost_reason"].strip()
        lead.save(update_fields=["status", "lost_reason"])
        return
    order = work.order or Order(lead=_lead(work))
    for name in ("specification", "amount", "terms", "delivery_address", "delivery_date"):
        setattr(order, name, data[name])
    order_set_discount(
        order=order, discount=data["discount"], user=work.user, stage=node_ref(work.node)
    )
    order.save()
    work.order = order


def documents(*, work: StageWork, data: dict[str, Any]) -> None:
    order = _order(work)
    for name in Order.DOCUMENT_FIELDS:
        setattr(order, name, data[name])
    order.save(update_fields=list(Order.DOCUMENT_FIELDS))


def deliver(*, work: StageWork, data: dict[str, Any]) -> None:
    order = _order(work)
    # recorded now -- the moment the report counts the delivery by (the stage's
    # completion); the day the goods arrived is the expeditor's word (README, "Delivery")
    order.delivered = timezone.now()
    order.delivered_on = data["delivered_on"]
    order.originals_returned = data["originals_returned"]
    order.save(update_fields=["delivered", "delivered_on", "originals_returned"])
    # the client is a customer now (one statement, without reading the client first)
    became = (
        Client.objects.filter(pk=_lead(work).client_id)
        .exclude(status=Client.Status.CUSTOMER)
        .update(status=Client.Status.CUSTOMER)
    )
    if became:
        _qualify_to_the_account_pool(work)


def _qualify_to_the_account_pool(work: StageWork) -> None:
    """A prospect that became a customer: its other deals waiting at qualify are the
    account managers' now (hunters must not "re-discover" customers) -- each moved to the
    account pool as a repeat order, with an audit event (``stage_move``)."""
    lead = _lead(work)
    flow = work.node.flow_class.instance
    waiting = (
        Task.objects.filter(
            flow_task=flow.qualify,
            status__in=[STATUS.NEW, STATUS.ASSIGNED],
            process__lead__client_id=lead.client_id,
        )
        .exclude(process_id=work.task.process_id)
        .select_related("process__lead")
        .order_by("pk")
    )
    reason = _(
        "The client became a customer (deal #%(deal)s delivered): its deals go on in the "
        "account pool."
    ) % {"deal": lead.pk}
    for task in waiting:
        other: Lead = task.process.lead
        origin = str(Lead.Source(other.source).label)
        other.source_detail = (
            f"{origin}: {other.source_detail}" if other.source_detail else origin
        )[:200]
        other.source = Lead.Source.REPEAT_ORDER
        other.status = Lead.Status.QUALIFIED
        other.save(update_fields=["source", "source_detail", "status"])
        stage_move(task=task, to_node=flow.prepare_order, reason=reason, actor=work.user)


def follow_up(*, work: StageWork, data: dict[str, Any]) -> None:
    process = work.task.process.coerced
    process.repeat_request = (
        data["repeat_request"].strip() if data["outcome"] == "repeat_order" else ""
    )
    process.save(update_fields=["data"])


def open_repeat_order(activation: Any) -> None:
    """The follow-up found a new order: it starts its own deal in the account pool."""
    process = activation.process
    lead = process.lead
    lead_intake(
        client=lead.client,
        source=Lead.Source.REPEAT_ORDER,
        request=process.repeat_request,
        contact=lead.contact,
        source_detail=f"#{process.pk}",
    )


def nurture_until(activation: Any) -> datetime:
    """When a nurtured lead comes back to the hunters: 9 o'clock on its date."""
    return timezone.make_aware(datetime.combine(activation.process.lead.nurture_until, time(9)))


def priority(process: Any) -> int:
    """Existing clients (repeat orders, reactivation) and large orders come first."""
    lead = process.lead
    order = getattr(lead, "order", None)
    if lead.source in (Lead.Source.REPEAT_ORDER, Lead.Source.REACTIVATION) or (
        order is not None and order.amount >= LARGE_ORDER
    ):
        return Priority.HIGH
    return Priority.NORMAL


def approval_priority(process: Any) -> int:
    """An account manager and a client wait for the team lead's answer."""
    return Priority.URGENT


def delivery_due(process: Any) -> datetime | None:
    """The end of the delivery date promised to the client, if one was agreed."""
    order = process.lead.order
    if order.delivery_date is None:
        return None
    return timezone.make_aware(datetime.combine(order.delivery_date, time(18)))


def reopen_for_the_account_pool(activation: Any) -> None:
    """A nurtured lead whose company has become a customer meanwhile goes on as that
    customer's repeat order: the account managers' business, not the hunters'."""
    lead = activation.process.lead
    lead.status = Lead.Status.QUALIFIED
    lead.save(update_fields=["status"])


# --- the reminder flow ------------------------------------------------------------------------


def reminder_done(*, work: StageWork, data: dict[str, Any]) -> None:
    """A next step done: what happened goes on the client's timeline, with the next step
    (scheduled as a reminder of its own, if it has a date)."""
    reminder = reminder_for_process(work.task.process)
    if reminder is None:
        raise StageInvalid(_("This reminder's next step is gone."))
    activity_log(
        user=work.user,
        client=reminder.client,
        kind=data["kind"],
        text=data["text"],
        lead=reminder.lead,
        task=work.task,
        next_step=data.get("next_step") or "",
        next_step_date=data.get("next_step_date"),
    )


def reminder_due(process: Any) -> datetime | None:
    """A reminder is due at the end of the day it was promised for."""
    reminder = reminder_for_process(process)
    return reminder_due_end(reminder) if reminder is not None else None


def reminder_priority(process: Any) -> int:
    """A promise to a client comes before routine work."""
    return int(Priority.HIGH)
