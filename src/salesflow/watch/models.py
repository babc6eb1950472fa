"""A leak early warning: one person's day over one of their limits.

One row per person, day, count (reveals, unassigns, exports) and level (the first time
over the limit is level 1; after a team lead clears it, twice the limit is level 2, ...),
so that an alert is raised once per crossing, even by concurrent requests (the unique
constraint). A row with ``suspends`` and no ``cleared`` stops the person's reveals.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class LeakAlert(models.Model):
    class Kind(models.TextChoices):
        REVEALS = "reveals", _("contacts shown")
        UNASSIGNS = "unassigns", _("tasks given back unworked")
        EXPORTS = "exports", _("exports of the client base")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("person"),
    )
    day = models.DateField(_("day"))
    kind = models.CharField(_("what"), max_length=20, choices=Kind.choices)
    level = models.PositiveSmallIntegerField(_("level"), default=1)
    count = models.PositiveIntegerField(_("count that day"))
    limit = models.PositiveIntegerField(_("daily limit"))
    suspends = models.BooleanField(_("suspends reveals"), default=True)
    created = models.DateTimeField(_("raised"), default=timezone.now)
    cleared = models.DateTimeField(_("cleared"), null=True, blank=True)
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("cleared by"),
    )
    cleared_reason = models.TextField(_("why cleared"), blank=True)

    class Meta:
        verbose_name = _("leak early warning")
        verbose_name_plural = _("leak early warnings")
        ordering = ["-created", "-id"]
        default_permissions = ("view",)
        constraints = [
            models.UniqueConstraint(
                fields=["user", "day", "kind", "level"], name="leak_alert_once_per_crossing"
            ),
            models.CheckConstraint(
                condition=Q(cleared__isnull=True, cleared_by__isnull=True)
                | Q(cleared__isnull=False, cleared_by__isnull=False),
                name="leak_alert_cleared_by_whom_and_when",
            ),
        ]
        indexes = [
            models.Index(
                fields=["user"], name="leak_alert_open", condition=Q(cleared__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.day} {self.kind} {self.count}/{self.limit}"
