"""Pay's actions: closing a month, adjusting pay. Each in one transaction, audited.

Everything that writes into a month -- closing it, an adjustment, a dispute about it --
first takes the month's lock (``month_lock``), so a month is never closed while an
adjustment or a dispute is being added to it: the one waits for the other, then sees it.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from salesflow.audit.models import AuditEvent
from salesflow.audit.services import audit_record

from .access import access_close
from .credit import CREDIT
from .exceptions import AdjustmentInvalid, PeriodRefused
from .models import ClosedLine, PayAdjustment, PayDispute, PayPeriod
from .selectors import compute_lines, month_bounds, next_month

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def month_lock(month: date) -> None:
    """Serialise the writers of ``month`` until the transaction ends (PostgreSQL's
    transaction-level advisory lock; the embedded SQLite has one writer anyway). Call
    inside ``transaction.atomic``."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # a key of pay's own: "pay" and the month's number
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [0x706179, month.toordinal()])


def pay_period_close(*, month: date, user: User) -> PayPeriod:
    """Freeze ``month``: its lines stored as they are now, never to change; audited.
    Refused (nothing written) when the month is not over, is closed already, has a pay
    dispute waiting for a decision, or the person is not an admin. Later corrections go
    to the next open month (``pay_adjust``)."""
    access_close(user)
    if timezone.now() < month_bounds(month)[1]:
        raise PeriodRefused(
            _("%(month)s is not over yet: its statement is “so far” and cannot be closed.")
            % {"month": f"{month:%Y-%m}"}
        )
    with transaction.atomic():
        # one writer of the month at a time: a second close waits, then finds it closed
        month_lock(month)
        if PayPeriod.objects.filter(month=month).exists():
            raise PeriodRefused(
                _("%(month)s is closed already; a correction is an adjustment in an open month.")
                % {"month": f"{month:%Y-%m}"}
            )
        disputes = PayDispute.objects.filter(month=month, status=PayDispute.Status.OPEN).count()
        if disputes:
            raise PeriodRefused(
                _(
                    "%(month)s has %(count)d pay dispute(s) waiting for a team lead's decision: "
                    "decide them first, then close the month."
                )
                % {"month": f"{month:%Y-%m}", "count": disputes}
            )
        lines, revenue = compute_lines(month)
        period = PayPeriod.objects.create(
            month=month,
            closed_by=user,
            revenue=revenue,
            credited=sum((line.share for line in lines if line.kind == CREDIT), Decimal(0)),
            total=sum((line.pay for line in lines), Decimal(0)),
        )
        ClosedLine.objects.bulk_create(
            ClosedLine(
                period=period,
                user_id=line.user_id,
                kind=line.kind,
                at=line.at,
                process_id=line.process_id,
                client=line.client,
                node=line.node,
                amount=line.amount,
                share=line.share,
                rate=line.rate,
                commission=line.commission,
                advance=line.advance,
                pay=line.pay,
                plan=line.plan,
                note=line.note,
            )
            for line in lines
        )
        audit_record(
            action=AuditEvent.Action.PAY_CLOSE,
            actor=user,
            reason=f"{month:%Y-%m}",
            data={"month": f"{month:%Y-%m}", "lines": len(lines), "total": str(period.total)},
        )
    return period


def open_month_from(month: date) -> date:
    """``month`` if it is open, else the first open month after it."""
    closed = set(PayPeriod.objects.filter(month__gte=month).values_list("month", flat=True))
    while month in closed:
        month = next_month(month)
    return month


def adjustment_amount(amount: Decimal | str | None) -> Decimal:
    """A non-zero amount to the kopeck, or AdjustmentInvalid saying so."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value == 0 or value != value.quantize(Decimal("0.01")):
        raise AdjustmentInvalid(
            _("An adjustment needs a non-zero amount in roubles and kopecks, such as -1500.50."),
            errors={"amount": [_("Not a non-zero amount to the kopeck.")]},
        )
    return value


def pay_adjust(
    *,
    person: User,
    amount: Decimal | str,
    reason: str,
    author: User,
    month: date,
    process_id: int | None = None,
) -> PayAdjustment:
    """Add a correction to ``person``'s pay for ``month``; a closed month is never
    rewritten: the adjustment goes to the next open month and says which one it corrects.
    Refused without a non-zero amount or a reason, or unless ``author`` is an admin;
    audited."""
    access_close(author)
    with transaction.atomic():
        return adjustment_create(
            person=person,
            amount=adjustment_amount(amount),
            reason=reason,
            author=author,
            month=month,
            process_id=process_id,
        )


def adjustment_create(
    *,
    person: User,
    amount: Decimal,
    reason: str,
    author: User,
    month: date,
    process_id: int | None = None,
) -> PayAdjustment:
    """The adjustment itself, in ``month`` if it is open, else in the next open month;
    audited. The caller has checked who may (``pay_adjust``: an admin; a dispute's
    decision: a team lead) and the amount (``adjustment_amount``). Call inside
    ``transaction.atomic``."""
    if not reason.strip():
        raise AdjustmentInvalid(
            _("An adjustment needs its reason."), errors={"reason": [_("Say why.")]}
        )
    while True:
        target = open_month_from(month)
        month_lock(target)
        # closed while we waited for its lock: the next one
        if not PayPeriod.objects.filter(month=target).exists():
            break
    adjustment = PayAdjustment.objects.create(
        month=target,
        user=person,
        amount=amount,
        reason=reason.strip(),
        corrects=month if target != month else None,
        process_id=process_id,
        created_by=author,
    )
    audit_record(
        action=AuditEvent.Action.PAY_ADJUST,
        actor=author,
        to_user=person,
        process_id=process_id,
        reason=reason.strip(),
        data={"month": f"{target:%Y-%m}", "corrects": f"{month:%Y-%m}", "amount": str(amount)},
    )
    return adjustment
