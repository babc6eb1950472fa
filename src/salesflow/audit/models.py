"""The append-only history of who did what to which task, and why.

viewflow's task row keeps only the last owner; this table keeps every assignment,
handoff, bounce and approval. Rows are only ever inserted: ``AuditEvent.save`` refuses to
update one and ``delete`` refuses to remove one -- and so does the database itself, for any
client: a trigger (migration 0003, PostgreSQL and SQLite) rejects every UPDATE and DELETE
of the table.
"""

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> NoReturn:  # noqa: D102 - the table is append-only
        raise TypeError("audit events are append-only and cannot be updated")

    def delete(self) -> NoReturn:  # noqa: D102
        raise TypeError("audit events are append-only and cannot be deleted")


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        ASSIGN = "assign", _("Assigned")
        CLAIM = "claim", _("Claimed")
        UNASSIGN = "unassign", _("Returned to the pool")
        REASSIGN = "reassign", _("Reassigned")
        COMPLETE = "complete", _("Completed")
        HANDOFF = "handoff", _("Handed off")
        BOUNCE = "bounce", _("Bounced back")
        APPROVE = "approve", _("Approved")
        REJECT = "reject", _("Rejected")
        CANCEL = "cancel", _("Cancelled")
        SIDE_TASK = "side_task", _("Handed a side task over")
        DATA_FIX = "data_fix", _("Fixed a client card")
        STALLED = "stalled", _("Marked stalled")
        DEACTIVATE = "deactivate", _("Deactivated a user")
        REVEAL = "reveal", _("Revealed a contact")
        EXPORT = "export", _("Exported clients")
        MERGE = "merge", _("Merged duplicate clients")
        SPLIT = "split", _("Kept a probable duplicate apart")
        CONFIRM_CONTACT = "confirm_contact", _("Confirmed a lead's contact")
        LEAK_WARNING = "leak_warning", _("Leak early warning")
        LEAK_CLEARED = "leak_cleared", _("Cleared a suspension of reveals")
        ADMIN_CHANGE = "admin_change", _("Changed in the admin")
        PAY_CLOSE = "pay_close", _("Closed a pay period")
        PAY_ADJUST = "pay_adjust", _("Adjusted pay")
        JOIN = "join", _("A new lead joined the open deal")
        MOVE = "move", _("Moved to another stage's pool")
        PAY_DISPUTE = "pay_dispute", _("Disputed a pay line")
        PAY_DISPUTE_ACCEPT = "pay_dispute_accept", _("Accepted a pay dispute")
        PAY_DISPUTE_REJECT = "pay_dispute_reject", _("Rejected a pay dispute")

    created = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("who"),
        help_text=_("Empty when the system acted (auto-assignment, scheduled jobs)."),
    )
    action = models.CharField(_("what"), max_length=20, choices=Action.choices)
    task = models.ForeignKey(
        "viewflow.Task",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("task"),
    )
    process = models.ForeignKey(
        "viewflow.Process",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("process"),
    )
    client = models.ForeignKey(
        "clients.Client",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("client"),
    )
    from_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("from"),
    )
    to_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("to"),
    )
    reason = models.TextField(_("why"), blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-created", "-id"]
        default_permissions = ("view",)
        indexes = [
            models.Index(fields=["process", "created"], name="audit_process_created"),
            models.Index(fields=["client", "created"], name="audit_client_created"),
            models.Index(fields=["actor", "created"], name="audit_actor_created"),
            # the few tasks that sent their work back (pay reads "was this task sent
            # back?" for every stage task of a month's deals): a small index, not a scan
            # of the whole trail
            models.Index(
                fields=["task"],
                name="audit_task_sent_back",
                condition=models.Q(action__in=["bounce", "reject"]),
            ),
            # who finished a stage of a deal and passed it on (complete, handoff, approve:
            # targets.measures.CARRIED), from the deal: the people a delivery credits
            models.Index(
                fields=["process"],
                include=["actor"],
                name="audit_process_carried",
                condition=models.Q(action__in=["complete", "handoff", "approve"]),
            ),
            # the qualifications of a period with their deal and who qualified it (the
            # funnel's "qualified", the measure qualified_to_order): a month's few thousand
            # of them, not a scan of the month's whole trail
            models.Index(
                fields=["created"],
                include=["actor", "process"],
                name="audit_qualified",
                condition=models.Q(
                    action__in=["complete", "handoff", "approve"],
                    data__outcome="qualified",
                    process__isnull=False,
                ),
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.created:%Y-%m-%d %H:%M} {self.actor or '-'} {self.action} task {self.task_id}"
        )

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise TypeError("audit events are append-only and cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("audit events are append-only and cannot be deleted")
