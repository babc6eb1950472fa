"""The daily queue report, stored: one snapshot per day and the rows of figures behind it.

A snapshot describes one calendar day in ``settings.TIME_ZONE``: the state of the queues at
the end of that day (what was open, with whom, how old, how late) and what happened during
it (created, completed, handed off, bounced, delivered). It is computed from timestamps and
the audit trail, so building it again later -- a backfill -- gives the same figures.

Re-building a day replaces its rows in one transaction; the unique ``day`` keeps one
snapshot per day. The rows are kept for trends (the page's 30-day charts) and for the API.

Ages and latencies are whole seconds. Who "received" and who "caused" a bounce:

* **received** -- the person (stage, role) who got a handoff, found it wanting and sent the
  work back: the bounce note's author;
* **caused** -- the person whose work was sent back: the one who last completed the stage
  the bounce returned to (it goes back to them).

A discount rejection by a team lead is the approval stage's decision, not a bounce: it is
counted as that stage's outcome ``rejected``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

# Upper edges (seconds) of the age groups of open work; the last group is open-ended.
AGE_BUCKET_EDGES = (4 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600)
AGE_BUCKET_LABELS = (_("under 4 h"), _("4 h – 1 d"), _("1–3 d"), _("3–7 d"), _("over 7 d"))


class Snapshot(models.Model):
    """One day's report. Its rows: ``roles``, ``stages``, ``people``, ``transitions``,
    ``contributions``."""

    day = models.DateField(_("day"), unique=True)
    starts = models.DateTimeField(_("day starts"))
    ends = models.DateTimeField(_("day ends"))
    time_zone = models.CharField(_("time zone"), max_length=64)
    generated = models.DateTimeField(_("generated"))
    emailed = models.DateTimeField(
        _("e-mailed"),
        null=True,
        blank=True,
        help_text=_("When the e-mail with this day's report went out (once per day)."),
    )
    email_started = models.DateTimeField(
        _("e-mail started"),
        null=True,
        blank=True,
        help_text=_(
            "Committed before the mail server is spoken to. Set with no 'e-mailed': the "
            "worker died while sending and nobody knows whether it went out -- it is not "
            "sent again by itself (salesflow report daily --date DAY --email does)."
        ),
    )
    orders_delivered = models.PositiveIntegerField(_("orders delivered"), default=0)
    delivered_amount = models.DecimalField(
        _("amount delivered"), max_digits=16, decimal_places=2, default=0
    )
    # dependence on one person (salesflow.targets.dependence), as of the end of the day
    active_clients = models.PositiveIntegerField(
        _("clients worked on in the last 12 months"), default=0
    )
    dependent_clients = models.PositiveIntegerField(
        _("clients that depend on one person"), default=0
    )

    class Meta:
        verbose_name = _("daily report")
        verbose_name_plural = _("daily reports")
        ordering = ["-day"]
        constraints = [
            models.CheckConstraint(condition=Q(ends__gt=models.F("starts")), name="snapshot_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d}"


class HeldWork(models.Model):
    """Open work at the end of the day, as one group (a role, a stage, a person) held it."""

    in_work = models.PositiveIntegerField(_("in work"), default=0)
    stalled = models.PositiveIntegerField(_("stalled"), default=0)
    overdue = models.PositiveIntegerField(
        _("overdue"), default=0, help_text=_("Open past its due time: an SLA breach.")
    )
    oldest_age_seconds = models.PositiveBigIntegerField(_("oldest age, s"), null=True, blank=True)
    median_age_seconds = models.PositiveBigIntegerField(_("median age, s"), null=True, blank=True)
    age_buckets = models.JSONField(
        _("open work by age"),
        default=list,
        help_text=_("Counts per age group (see AGE_BUCKET_EDGES)."),
    )

    class Meta:
        abstract = True


class QueueWork(HeldWork):
    """Open work of a pool: how much, and how much of it nobody has taken."""

    open = models.PositiveIntegerField(_("open"), default=0)
    unassigned = models.PositiveIntegerField(_("unassigned"), default=0)

    class Meta:
        abstract = True


class DayWork(models.Model):
    """What a group did during the day."""

    completed = models.PositiveIntegerField(
        _("completed"), default=0, help_text=_("Stages finished, not counting bounces.")
    )
    finished_late = models.PositiveIntegerField(
        _("finished late"), default=0, help_text=_("Finished after the due time: an SLA breach.")
    )
    handoffs = models.PositiveIntegerField(_("handoffs written"), default=0)
    bounces_received = models.PositiveIntegerField(
        _("bounces received"), default=0, help_text=_("Handoffs received and sent back.")
    )
    bounces_caused = models.PositiveIntegerField(
        _("bounces caused"), default=0, help_text=_("Own work sent back by the next stage.")
    )
    outcomes = models.JSONField(
        _("outcomes"), default=dict, help_text=_("Completions by outcome (stage conversion).")
    )

    class Meta:
        abstract = True


class RoleFigures(QueueWork, DayWork):
    snapshot = models.ForeignKey(Snapshot, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(_("role"), max_length=50)
    created = models.PositiveIntegerField(_("created"), default=0)

    class Meta:
        verbose_name = _("role figures")
        verbose_name_plural = _("role figures")
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "role"], name="report_role_once"),
        ]

    def __str__(self) -> str:
        return f"{self.snapshot_id}: {self.role}"


class StageFigures(QueueWork, DayWork):
    snapshot = models.ForeignKey(Snapshot, on_delete=models.CASCADE, related_name="stages")
    node = models.CharField(_("stage"), max_length=100)
    created = models.PositiveIntegerField(_("created"), default=0)

    class Meta:
        verbose_name = _("stage figures")
        verbose_name_plural = _("stage figures")
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "node"], name="report_stage_once"),
        ]

    def __str__(self) -> str:
        return f"{self.snapshot_id}: {self.node}"


class PersonFigures(HeldWork, DayWork):
    snapshot = models.ForeignKey(Snapshot, on_delete=models.CASCADE, related_name="people")
    selling_seconds = models.PositiveBigIntegerField(
        _("time on selling stages, s"),
        default=0,
        help_text=_("Of the work finished that day, from when each task was taken."),
    )
    non_selling_seconds = models.PositiveBigIntegerField(
        _("time on non-selling work, s"),
        default=0,
        help_text=_("Side tasks and the base's quality, counted the same way."),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("person"),
    )

    class Meta:
        verbose_name = _("person figures")
        verbose_name_plural = _("person figures")
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "user"], name="report_person_once"),
        ]

    def __str__(self) -> str:
        return f"{self.snapshot_id}: user {self.user_id}"


class TransitionFigures(models.Model):
    """Handoff quality of one transition (the stage a handoff note is written at, and the
    stage it is addressed to) during the day."""

    snapshot = models.ForeignKey(Snapshot, on_delete=models.CASCADE, related_name="transitions")
    from_node = models.CharField(_("from stage"), max_length=100)
    to_node = models.CharField(_("to stage"), max_length=100)
    handoffs = models.PositiveIntegerField(_("handoffs"), default=0)
    bounces = models.PositiveIntegerField(_("bounces"), default=0)
    claimed = models.PositiveIntegerField(
        _("claimed"), default=0, help_text=_("Handed-over work the next role took that day.")
    )
    latency_median_seconds = models.PositiveBigIntegerField(
        _("median handoff latency, s"), null=True, blank=True
    )
    latency_max_seconds = models.PositiveBigIntegerField(
        _("longest handoff latency, s"), null=True, blank=True
    )

    class Meta:
        verbose_name = _("transition figures")
        verbose_name_plural = _("transition figures")
        constraints = [
            models.UniqueConstraint(
                fields=["snapshot", "from_node", "to_node"], name="report_transition_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.snapshot_id}: {self.from_node} → {self.to_node}"


class Contribution(models.Model):
    """The contribution ledger: the orders delivered that day, credited to the people who
    carried them through each stage (the last to complete it before the delivery)."""

    snapshot = models.ForeignKey(Snapshot, on_delete=models.CASCADE, related_name="contributions")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("person"),
    )
    node = models.CharField(_("stage"), max_length=100)
    orders = models.PositiveIntegerField(_("orders"), default=0)
    amount = models.DecimalField(
        _("amount"),
        max_digits=16,
        decimal_places=2,
        default=0,
        help_text=_("The orders' amounts after discount."),
    )

    class Meta:
        verbose_name = _("contribution")
        verbose_name_plural = _("contributions")
        constraints = [
            models.UniqueConstraint(
                fields=["snapshot", "user", "node"], name="report_contribution_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.snapshot_id}: user {self.user_id} at {self.node}"


class ReportRecipient(models.Model):
    """Who gets the daily report by e-mail; kept by an admin."""

    email = models.EmailField(_("e-mail"), unique=True)
    name = models.CharField(_("name"), max_length=200, blank=True)
    active = models.BooleanField(pgettext_lazy("report recipient", "active"), default=True)

    class Meta:
        verbose_name = _("report recipient")
        verbose_name_plural = _("report recipients")
        ordering = ["email"]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email
