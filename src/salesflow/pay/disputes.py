"""Pay disputes: a person objects to a line of their statement, a team lead decides.

* ``pay_dispute_open`` -- a person disputes one line of their *own* statement (a deal's
  stage, or the month's total) with a reason; the disputes flow
  (``SALESFLOW_PAY_DISPUTE_NODE``, found through the setting: the engine never imports
  ``flows/``) puts the decision in the team leads' pool, with its SLA and stalled rules;
* ``pay_dispute_decide`` -- the decision stage's service: accepted with an adjustment
  (in the disputed month if it is open, else in the next open one -- a closed month is
  never rewritten) or rejected with the answer; the person is told (the outbox);
* the selectors the pages and the API read.

Every step is an audit event; a refusal (a ``salesflow.exceptions`` error) writes
nothing. A month with a dispute waiting cannot be closed (``services.pay_period_close``):
both take the month's lock (``services.month_lock``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task

from salesflow.audit.models import AuditEvent
from salesflow.audit.services import audit_record
from salesflow.celery import publish
from salesflow.conveyor.registry import human_nodes, named_node
from salesflow.exceptions import NotFound, NotPermitted, SeparationOfDutiesViolated
from salesflow.outbox import notification_record
from salesflow.people import display_name
from salesflow.queues.selectors import OPEN

from .access import access_decide
from .exceptions import DisputeConflict, DisputeInvalid
from .models import PayDispute
from .nodes import DisputeStart
from .selectors import current_month, statement
from .services import adjustment_amount, adjustment_create, month_lock

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User

REASON_MAX = 2000
NOTIFY_JOB = "salesflow.pay.tasks.send_notification"


def line_key(process_id: int | None, node: str = "") -> str:
    """How a dispute names its line: ``total``, or ``<deal>:<stage>``."""
    return PayDispute.TOTAL if process_id is None else f"{process_id}:{node}"


def _reason(text: str, field: str, missing: str) -> str:
    text = (text or "").strip()
    if not text:
        raise DisputeInvalid(missing, errors={field: [missing]})
    if len(text) > REASON_MAX:
        message = _("At most %(max)s characters.") % {"max": REASON_MAX}
        raise DisputeInvalid(message, errors={field: [message]})
    return text


def stage_title(node: str) -> str:
    stage = human_nodes().get(node)
    return str(stage.task_title) if stage is not None else node


def pay_dispute_open(
    *, person: User | AnonymousUser, month: date, deal: int | None, stage: str, reason: str
) -> PayDispute:
    """``person`` disputes a line of their own statement for ``month``: the line of deal
    ``deal`` at ``stage`` (its reference, ``conveyor.qualify``; empty for a line of the
    deal with no stage, such as a referral), or the month's total (``deal`` None).

    Refused -- nothing written -- for anyone not signed in (NotPermitted), a month not
    begun yet or a line that is not theirs (NotPermitted: nobody disputes another's pay),
    no reason (DisputeInvalid), a line they dispute already (DisputeConflict). A closed
    month may be disputed: an accepted dispute is paid in the next open month."""
    if not (person.is_authenticated and person.is_active):
        raise NotPermitted(_("Sign in to dispute your pay."))
    text = _reason(reason, "reason", _("Say what is wrong with the line."))
    if month > current_month():
        raise NotPermitted(
            _("%(month)s has not begun: it has no statement to dispute.")
            % {"month": f"{month:%Y-%m}"}
        )
    stage = (stage or "").strip()
    with transaction.atomic():
        month_lock(month)
        mine = statement(month=month, user_ids=[person.pk])
        client = ""
        if deal is None:
            pay = mine.total
        else:
            lines = [
                line
                for line in mine.lines
                if line.user_id == person.pk and line.process_id == deal and line.node == stage
            ]
            if not lines:
                raise NotPermitted(
                    _(
                        "Your statement for %(month)s has no line for deal #%(deal)s at "
                        "“%(stage)s”: you may dispute only your own lines."
                    )
                    % {
                        "month": f"{month:%Y-%m}",
                        "deal": deal,
                        "stage": stage_title(stage) if stage else "-",
                    }
                )
            pay = sum((line.pay for line in lines), Decimal(0))
            client = lines[0].client
        key = line_key(deal, stage)
        if PayDispute.objects.filter(
            user_id=person.pk, month=month, line=key, status=PayDispute.Status.OPEN
        ).exists():
            raise DisputeConflict(
                _("You dispute this line already; wait for the team lead's answer.")
            )
        dispute = PayDispute.objects.create(
            month=month,
            user_id=person.pk,
            line=key,
            process_id=deal,
            node=stage if deal is not None else "",
            client=client,
            pay=pay,
            reason=text,
        )
        process = named_node("SALESFLOW_PAY_DISPUTE_NODE", DisputeStart).run(dispute=dispute)
        audit_record(
            action=AuditEvent.Action.PAY_DISPUTE,
            actor=person,
            process_id=process.pk,
            reason=text,
            data={
                "dispute": dispute.pk,
                "month": f"{month:%Y-%m}",
                "line": key,
                "pay": str(pay),
            },
        )
    return dispute


def pay_dispute_decide(
    *,
    process_id: int,
    user: User,
    accept: bool,
    answer: str,
    amount: Decimal | str | None = None,
) -> PayDispute:
    """Decide the dispute of the disputes flow's process ``process_id``: ``accept`` with
    ``amount`` (an adjustment, positive or negative, paid in the disputed month if it is
    open, else in the next open one), or reject; ``answer`` is what the person reads.

    Only a team lead or an admin decides (NotPermitted), never their own dispute
    (SeparationOfDutiesViolated), once (DisputeConflict). Call inside the decision
    stage's completion (its process locked); audited, and the person told."""
    access_decide(user)
    text = _reason(answer, "answer", _("Write the answer the person will read."))
    dispute = (
        PayDispute.objects.select_for_update(of=("self",))
        .filter(flow_process_id=process_id)
        .first()
    )
    if dispute is None:
        raise NotFound(_("This task has no pay dispute."))
    if dispute.user_id == user.pk:
        raise SeparationOfDutiesViolated(
            _(
                "You disputed this line yourself: a colleague must decide it. Give the task "
                "back to the pool."
            )
        )
    if dispute.status != PayDispute.Status.OPEN:
        raise DisputeConflict(
            _("This dispute was decided already (%(status)s).")
            % {"status": dispute.get_status_display().lower()}
        )
    value = adjustment_amount(amount) if accept else None
    month_lock(dispute.month)
    if value is not None:
        dispute.adjustment = adjustment_create(
            person=dispute.user,
            amount=value,
            reason=_("Pay dispute #%(id)s: %(answer)s") % {"id": dispute.pk, "answer": text},
            author=user,
            month=dispute.month,
            process_id=dispute.process_id,
        )
    dispute.status = PayDispute.Status.ACCEPTED if accept else PayDispute.Status.REJECTED
    dispute.answer = text
    dispute.decided = timezone.now()
    dispute.decided_by = user
    dispute.save(update_fields=["status", "answer", "decided", "decided_by", "adjustment"])
    audit_record(
        action=AuditEvent.Action.PAY_DISPUTE_ACCEPT
        if accept
        else AuditEvent.Action.PAY_DISPUTE_REJECT,
        actor=user,
        to_user=dispute.user,
        process_id=process_id,
        reason=text,
        data={
            "dispute": dispute.pk,
            "month": f"{dispute.month:%Y-%m}",
            "line": dispute.line,
            "amount": str(value) if value is not None else None,
            "paid_in": f"{dispute.adjustment.month:%Y-%m}" if dispute.adjustment else None,
        },
    )
    _notify(dispute)
    return dispute


def _notify(dispute: PayDispute) -> None:
    """Tell the person the answer (the outbox: recorded with the decision, sent once after
    the commit); nobody to tell without an e-mail address -- the page shows it anyway."""
    address = dispute.user.email
    if not address:
        return
    line = describe_line(dispute)
    if dispute.status == PayDispute.Status.ACCEPTED and dispute.adjustment is not None:
        subject = _("salesflow: your pay dispute was accepted")
        outcome = _("Accepted: %(amount)s in %(month)s.") % {
            "amount": dispute.adjustment.amount,
            "month": f"{dispute.adjustment.month:%Y-%m}",
        }
    else:
        subject = _("salesflow: your pay dispute was rejected")
        outcome = _("Rejected.")
    body = "\n".join(
        [
            _("Your dispute of %(month)s, %(line)s:")
            % {"month": f"{dispute.month:%Y-%m}", "line": line},
            outcome,
            _("Answer: %(answer)s") % {"answer": dispute.answer},
        ]
    )
    notification = notification_record(
        key=f"pay_dispute:{dispute.pk}", subject=subject, body=body, recipients=[address]
    )
    transaction.on_commit(partial(publish, NOTIFY_JOB, notification.pk))


# --- reading ---------------------------------------------------------------------------


def describe_line(dispute: PayDispute) -> str:
    """The disputed line in words: "the total", or the deal, client and stage."""
    if dispute.process_id is None:
        return _("the month's total")
    parts = [f"#{dispute.process_id}"]
    if dispute.client:
        parts.append(dispute.client)
    if dispute.node:
        parts.append(stage_title(dispute.node))
    return " · ".join(parts)


@dataclass(frozen=True)
class DisputeView:
    dispute: PayDispute
    line: str  # the line in words
    decider: str  # who decided, by name


def disputes_of(*, user_id: int, month: date | None = None) -> list[DisputeView]:
    """A person's disputes (of ``month``, or all), newest first, with their answers (one
    query)."""
    rows = PayDispute.objects.filter(user_id=user_id).select_related("decided_by", "adjustment")
    if month is not None:
        rows = rows.filter(month=month)
    return [
        DisputeView(
            dispute=row,
            line=describe_line(row),
            decider=display_name(row.decided_by) if row.decided_by is not None else "",
        )
        for row in rows.order_by("-created", "-id")[:200]
    ]


@dataclass(frozen=True)
class DisputeRow:
    """A dispute on the team statement: whose, and where its decision waits."""

    dispute: PayDispute
    person: str
    line: str
    decider: str
    task_url: str  # the open decision task's page ("" once decided)
    holder: str  # who holds the decision task ("" while it waits in the pool)


def month_disputes(month: date) -> list[DisputeRow]:
    """Every dispute about ``month``, the waiting ones first (two queries: the disputes
    with their people, the open decision tasks with their holders)."""
    rows = sorted(
        PayDispute.objects.filter(month=month)
        .select_related("user", "decided_by", "adjustment")
        .order_by("created", "id")[:500],
        key=lambda row: row.status != PayDispute.Status.OPEN,
    )
    waiting = [row.flow_process_id for row in rows if row.status == PayDispute.Status.OPEN]
    tasks = {
        task.process_id: task
        for task in Task.objects.filter(
            process_id__in=waiting, flow_task_type="HUMAN", status__in=OPEN
        ).select_related("owner")
    }
    result = []
    for row in rows:
        task = tasks.get(row.flow_process_id) if row.flow_process_id is not None else None
        result.append(
            DisputeRow(
                dispute=row,
                person=display_name(row.user),
                line=describe_line(row),
                decider=display_name(row.decided_by) if row.decided_by is not None else "",
                task_url=task.flow_task.reverse("index", args=[task.process_id, task.pk])
                if task is not None
                else "",
                holder=display_name(task.owner) if task is not None and task.owner else "",
            )
        )
    return result


def dispute_for_process(process_id: int) -> PayDispute | None:
    """The dispute a disputes-flow process decides (the decision page shows it)."""
    return (
        PayDispute.objects.filter(flow_process_id=process_id)
        .select_related("user", "decided_by", "adjustment")
        .first()
    )


def may_dispute(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Whether the "Dispute" buttons show: anyone signed in disputes their own lines."""
    return bool(user.is_authenticated and user.is_active) and bool(
        getattr(settings, "SALESFLOW_PAY_DISPUTE_NODE", "")
    )
