"""What pay stores: closed periods with their lines frozen, and adjustments.

An open period is never stored -- its statement is computed from the trail every time it
is read ("so far"). Closing a month copies its lines here (``ClosedLine``) and freezes
them: a closed period's rows are never updated or deleted (the model and its queryset
refuse), and a later correction is a ``PayAdjustment`` in the next open month.
"""

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class FrozenQuerySet(models.QuerySet[Any]):
    def update(self, **kwargs: Any) -> NoReturn:  # noqa: D102
        raise TypeError("a closed pay period cannot be changed")

    def delete(self) -> NoReturn:  # noqa: D102
        raise TypeError("a closed pay period cannot be changed")


class _Frozen(models.Model):
    objects = FrozenQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise TypeError("a closed pay period cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("a closed pay period cannot be changed")


class PayPeriod(_Frozen):
    """A closed month (a row exists only once it is closed)."""

    month = models.DateField(_("month"), unique=True, help_text=_("Its first day."))
    closed = models.DateTimeField(_("closed"), default=timezone.now)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("closed by"),
    )
    revenue = models.DecimalField(_("revenue"), max_digits=16, decimal_places=2)
    credited = models.DecimalField(_("credited"), max_digits=16, decimal_places=2)
    total = models.DecimalField(_("total pay"), max_digits=16, decimal_places=2)

    class Meta:
        verbose_name = _("closed pay period")
        verbose_name_plural = _("closed pay periods")
        ordering = ["-month"]
        constraints = [
            models.CheckConstraint(condition=models.Q(month__day=1), name="pay_period_first_day"),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}"


class ClosedLine(_Frozen):
    """One statement line of a closed month, as it was when the month was closed."""

    period = models.ForeignKey(PayPeriod, on_delete=models.PROTECT, related_name="lines")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("person"),
    )
    kind = models.CharField(_("kind"), max_length=20)
    at = models.DateTimeField(_("when"))
    process_id = models.BigIntegerField(_("deal"), null=True, blank=True)
    client = models.CharField(_("client"), max_length=200, blank=True)
    node = models.CharField(_("stage"), max_length=100, blank=True)
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2)
    share = models.DecimalField(_("share"), max_digits=16, decimal_places=2)
    rate = models.DecimalField(_("rate, %"), max_digits=7, decimal_places=4)
    commission = models.DecimalField(_("commission"), max_digits=16, decimal_places=2)
    advance = models.DecimalField(_("advance"), max_digits=16, decimal_places=2)
    pay = models.DecimalField(_("pay"), max_digits=16, decimal_places=2)
    plan = models.CharField(_("plan"), max_length=50, blank=True)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("closed statement line")
        verbose_name_plural = _("closed statement lines")
        indexes = [models.Index(fields=["period", "user"], name="pay_line_period_user")]

    def __str__(self) -> str:
        return f"{self.period_id}: {self.user_id} {self.kind} {self.pay}"


class PayAdjustment(models.Model):
    """A correction, paid in an open month with its reason (a closed month is never
    rewritten: ``pay_adjust`` moves it to the next open one)."""

    month = models.DateField(_("month"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("person"),
    )
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2)
    reason = models.TextField(_("reason"))
    corrects = models.DateField(
        _("corrects month"), null=True, blank=True, help_text=_("The month it corrects, if closed.")
    )
    process_id = models.BigIntegerField(_("deal"), null=True, blank=True)
    created = models.DateTimeField(_("created"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )

    class Meta:
        verbose_name = _("pay adjustment")
        verbose_name_plural = _("pay adjustments")
        indexes = [models.Index(fields=["month", "user"], name="pay_adjustment_month_user")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(month__day=1), name="pay_adjustment_first_day"
            ),
            models.CheckConstraint(condition=~models.Q(reason=""), name="pay_adjustment_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}: {self.user_id} {self.amount}"


class PayDispute(models.Model):
    """A person's objection to one line of their statement (a deal's stage, or the month's
    total), decided by a team lead in the disputes flow (``salesflow.pay.disputes``):
    accepted with an adjustment (``PayAdjustment``, in the month if it is open, else the
    next open one), or rejected with the answer. One open dispute per line and person."""

    TOTAL = "total"  # the ``line`` of a dispute about the month's total

    class Status(models.TextChoices):
        # the words of a dispute (an audit event is "rejected" in another gender in Russian)
        OPEN = "open", pgettext_lazy("pay dispute", "Waiting for a decision")
        ACCEPTED = "accepted", pgettext_lazy("pay dispute", "Accepted")
        REJECTED = "rejected", pgettext_lazy("pay dispute", "Rejected")

    month = models.DateField(_("month"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("person"),
    )
    # "total", or "<deal>:<stage>" -- the line's key, as the statement shows it
    line = models.CharField(_("line"), max_length=120)
    process_id = models.BigIntegerField(_("deal"), null=True, blank=True)
    node = models.CharField(_("stage"), max_length=100, blank=True)
    client = models.CharField(_("client"), max_length=200, blank=True)
    pay = models.DecimalField(
        _("pay on the line"),
        max_digits=16,
        decimal_places=2,
        help_text=_("What the line paid when it was disputed."),
    )
    reason = models.TextField(_("reason"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    created = models.DateTimeField(_("created"), default=timezone.now)
    # the disputes flow's process deciding it (viewflow's; the engine never names the flow)
    flow_process = models.OneToOneField(
        "viewflow.Process",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="pay_dispute",
        verbose_name=_("process"),
    )
    answer = models.TextField(_("answer"), blank=True)
    decided = models.DateTimeField(_("decided"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    adjustment = models.OneToOneField(
        PayAdjustment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="dispute",
        verbose_name=_("adjustment"),
    )

    class Meta:
        verbose_name = _("pay dispute")
        verbose_name_plural = _("pay disputes")
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["month", "status"], name="pay_dispute_month_status")]
        constraints = [
            models.CheckConstraint(condition=models.Q(month__day=1), name="pay_dispute_first_day"),
            models.CheckConstraint(
                condition=models.Q(reason__regex=r"\S"), name="pay_dispute_reason"
            ),
            models.UniqueConstraint(
                fields=["user", "month", "line"],
                condition=models.Q(status="open"),
                name="pay_dispute_one_open_per_line",
            ),
            models.CheckConstraint(
                condition=models.Q(status="open")
                | (models.Q(decided__isnull=False) & models.Q(answer__regex=r"\S")),
                name="pay_dispute_decided_with_answer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}: {self.user_id} {self.line} ({self.status})"
