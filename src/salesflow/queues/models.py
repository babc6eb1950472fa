"""What the pools keep besides viewflow's tasks: people's absences and the round-robin
position of each pool. A task's own terms in its pool -- due date, priority, stalled --
live in viewflow's ``Task.data`` (see ``terms``)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


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
