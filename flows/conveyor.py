"""The default conveyor: intake → qualify → prepare order → documents → delivery →
follow up, a handoff note at every change of role, and a way back from each stage."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from viewflow import this
from viewflow.workflow import flow, lock

from salesflow.clients.models import Client, Lead
from salesflow.conveyor.nodes import If, Intake, Stage, Switch

from . import forms, handoffs, permissions, services
from .models import ConveyorProcess


def _lead(activation: Any) -> Lead:
    lead: Lead = activation.process.lead
    return lead


def is_qualified(activation: Any) -> bool:
    return _lead(activation).status == Lead.Status.QUALIFIED


def is_nurtured(activation: Any) -> bool:
    return _lead(activation).status == Lead.Status.NURTURE


def is_lost(activation: Any) -> bool:
    return _lead(activation).status == Lead.Status.LOST


def is_customer(activation: Any) -> bool:
    return _lead(activation).client.status == Client.Status.CUSTOMER


def discount_needs_approval(activation: Any) -> bool:
    return _lead(activation).order.discount_needs_approval


def wants_repeat_order(activation: Any) -> bool:
    return bool(activation.process.repeat_request)


class ConveyorFlow(flow.Flow):
    """Sales conveyor

    Each deal moves through stages owned by different roles; the client belongs to the
    company, and a handoff note carries the context between people.
    """

    process_class = ConveyorProcess
    process_title = _("Sales conveyor")
    process_description = _(
        "Each deal moves through stages owned by different roles; the client belongs to the "
        "company, and a handoff note carries the context between people."
    )
    lock_impl = lock.select_for_update_lock

    intake = (
        Intake()
        .Annotation(title=_("Intake"), description=_("A new lead arrives."))
        .Next(this.qualify)
    )
    repeat_order = (
        Intake()
        .Annotation(title=_("Repeat order"), description=_("A known client orders again."))
        .Next(this.prepare_order)
    )

    qualify = (
        Stage(forms.QualifyForm, apply=services.qualify)
        .Annotation(title=_("Qualify"), description=_("Find out what the client needs."))
        .Permission(permissions.QUALIFY_LEAD)
        .Priority(services.priority)
        .Handoff(handoffs.HUNTER_TO_ACCOUNT)
        .Next(this.qualification)
    )
    qualification = (
        Switch()
        .Annotation(title=_("Qualified?"))
        .Case(this.prepare_order, is_qualified)
        .Case(this.nurture, is_nurtured)
        .Default(this.disqualified)
    )
    nurture = (
        flow.Timer(services.nurture_until)
        .Annotation(title=_("Nurture until the date"))
        .Next(this.still_a_prospect)
    )
    still_a_prospect = (
        If(is_customer)
        .Annotation(title=_("A customer meanwhile?"))
        .Then(this.reopen_as_repeat_order)
        .Else(this.qualify)
    )
    reopen_as_repeat_order = (
        flow.Function(services.reopen_for_the_account_pool)
        .Annotation(title=_("Back as a repeat order"))
        .Next(this.prepare_order)
    )
    disqualified = flow.End().Annotation(title=_("Disqualified"))

    prepare_order = (
        Stage(forms.PrepareOrderForm, apply=services.prepare_order)
        .Annotation(title=_("Prepare order"), description=_("Specification, price, terms."))
        .Permission(permissions.PREPARE_ORDER)
        .Priority(services.priority)
        .Handoff(handoffs.ACCOUNT_TO_CLERK)
        .Bounce(this.qualify)
        .Next(this.order_terms)
    )
    order_terms = (
        Switch()
        .Annotation(title=_("An order? Discount over the limit?"))
        .Case(this.lost, is_lost)
        .Case(this.approve_discount, discount_needs_approval)
        .Default(this.documents)
    )
    lost = flow.End().Annotation(title=_("Lost: no order"))
    approve_discount = (
        Stage(forms.ApprovalForm)
        .Approval()
        .Annotation(title=_("Approve discount"), description=_("A team lead's decision."))
        .Permission(permissions.APPROVE_DISCOUNT)
        .Priority(services.approval_priority)
        .Bounce(this.prepare_order)
        .Next(this.documents)
    )
    documents = (
        Stage(forms.DocumentsForm, apply=services.documents)
        .Annotation(title=_("Documents"), description=_("Contract, invoice, closing acts."))
        .Permission(permissions.PREPARE_DOCUMENTS)
        .Priority(services.priority)
        .Handoff(handoffs.CLERK_TO_EXPEDITOR)
        .Bounce(this.prepare_order)
        .Next(this.delivery)
    )
    delivery = (
        Stage(forms.DeliveryForm, apply=services.deliver)
        .Annotation(title=_("Delivery"), description=_("Goods and documents to the client."))
        .Permission(permissions.DELIVER_ORDER)
        .Priority(services.priority)
        .Due(services.delivery_due)
        .Handoff(handoffs.EXPEDITOR_TO_ACCOUNT)
        .Bounce(this.documents)
        .Next(this.follow_up)
    )
    follow_up = (
        Stage(forms.FollowUpForm, apply=services.follow_up)
        .Annotation(title=_("Follow up"), description=_("After delivery: feedback, next order."))
        .Permission(permissions.FOLLOW_UP)
        .Priority(services.priority)
        .Bounce(this.delivery)
        .Next(this.repeat_check)
    )
    repeat_check = (
        If(wants_repeat_order)
        .Annotation(title=_("Orders again?"))
        .Then(this.open_repeat_order)
        .Else(this.end)
    )
    open_repeat_order = (
        flow.Function(services.open_repeat_order)
        .Annotation(title=_("Open a repeat order"))
        .Next(this.end)
    )
    end = flow.End().Annotation(title=_("Done"))
