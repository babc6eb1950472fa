"""A human task as its pool sees it: when it is due, how urgent it is, whether it is stuck.

viewflow's task row says what the task is and who holds it; it has no due date and no
priority. ``QueueItem`` adds them, one row per human task, written in the same statement
batch that creates the task (``queue_item_create``) and kept after the task is done, so the
daily report can tell which tasks were finished late.

The task's state (new, assigned, done) and owner are read from viewflow's row, never
copied here: the pools filter on viewflow's table through a partial index on open tasks
(migration 0001), and join this row for the order.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class QueueItem(models.Model):
    class Priority(models.IntegerChoices):
        LOW = 0, _("Low")
        NORMAL = 1, _("Normal")
        HIGH = 2, _("High")
        URGENT = 3, _("Urgent")

    class StallReason(models.TextChoices):
        SLA = "sla", _("Past its stage's SLA")
        IDLE = "idle", _("Assigned but untouched")

    task = models.OneToOneField(
        "viewflow.Task",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="queue_item",
        verbose_name=_("task"),
    )
    due = models.DateTimeField(_("due"))
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.NORMAL
    )
    touched = models.DateTimeField(
        _("last touched"),
        null=True,
        blank=True,
        help_text=_("The owner's last action on the task short of completing it."),
    )
    stalled = models.DateTimeField(_("marked stalled"), null=True, blank=True)
    stalled_reason = models.CharField(
        _("why stalled"), max_length=10, choices=StallReason.choices, blank=True
    )

    class Meta:
        verbose_name = _("queue item")
        verbose_name_plural = _("queue items")
        indexes = [
            models.Index(fields=["due"], name="queue_item_due"),
            models.Index(
                fields=["stalled"],
                name="queue_item_stalled",
                condition=models.Q(stalled__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(stalled__isnull=True, stalled_reason="")
                | (models.Q(stalled__isnull=False) & ~models.Q(stalled_reason="")),
                name="queue_item_stalled_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"task {self.task_id} due {self.due:%Y-%m-%d %H:%M}"


class Absence(models.Model):
    """A person away on given days (holiday, sick leave): auto-assignment skips them and a
    team lead cannot hand them work. Their open tasks stay theirs; move them from the
    console if the absence is long."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="absences",
        verbose_name=_("person"),
    )
    starts = models.DateField(_("first day away"))
    ends = models.DateField(_("last day away"))
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("absence")
        verbose_name_plural = _("absences")
        ordering = ["-starts"]
        indexes = [models.Index(fields=["user", "ends"], name="absence_user_ends")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends__gte=models.F("starts")),
                name="absence_ends_after_it_starts",
                violation_error_message=_("An absence cannot end before it starts."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.starts}..{self.ends}"


class RoundRobinCursor(models.Model):
    """Whom a round-robin pool gave its last task to: the next one goes to the member
    after them. One row per role, locked while a task is handed out."""

    role = models.CharField(_("role"), max_length=50, unique=True)
    last_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("last given to"),
    )

    class Meta:
        verbose_name = _("round-robin position")
        verbose_name_plural = _("round-robin positions")

    def __str__(self) -> str:
        return f"{self.role}: {self.last_user_id}"
