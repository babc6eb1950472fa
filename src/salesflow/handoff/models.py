"""Handoff notes: what one stage told the next, and whether the receiver read it."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class HandoffNote(models.Model):
    class Kind(models.TextChoices):
        HANDOFF = "handoff", _("Handoff")
        BOUNCE = "bounce", _("Bounce")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    process = models.ForeignKey(
        "viewflow.Process", on_delete=models.PROTECT, related_name="+", verbose_name=_("process")
    )
    client = models.ForeignKey(
        "clients.Client",
        on_delete=models.PROTECT,
        related_name="handoff_notes",
        verbose_name=_("client"),
    )
    from_task = models.ForeignKey(
        "viewflow.Task",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("written at task"),
    )
    # node references as the role files spell them, e.g. "conveyor.qualify"
    from_node = models.CharField(_("from stage"), max_length=100)
    to_node = models.CharField(_("to stage"), max_length=100)
    template = models.CharField(_("template"), max_length=50)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("author"),
    )
    fields = models.JSONField(_("fields"), default=dict)
    text = models.TextField(_("anything else"), blank=True)
    created = models.DateTimeField(_("written"), default=timezone.now)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("acknowledged by"),
    )
    acknowledged = models.DateTimeField(_("acknowledged"), null=True, blank=True)

    class Meta:
        verbose_name = _("handoff note")
        verbose_name_plural = _("handoff notes")
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["process", "to_node", "created"], name="handoff_incoming"),
            models.Index(fields=["client", "created"], name="handoff_client_history"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(acknowledged_by__isnull=True, acknowledged__isnull=True)
                | Q(acknowledged_by__isnull=False, acknowledged__isnull=False),
                name="handoff_acknowledged_by_and_when",
            ),
            models.CheckConstraint(
                condition=~Q(acknowledged_by=F("author")),
                name="handoff_author_cannot_acknowledge",
                violation_error_message=_("The author of a handoff note may not acknowledge it."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_node} → {self.to_node} ({self.get_kind_display()}, {self.author})"
