"""SMART goals: a specific goal with a deadline, set for a person by a team lead.

Its progress is computed with one of the engine's measures (``measure``) from the day it
was set to its deadline, or, for what the engine cannot measure (``measure`` empty), ticked
done by a team lead (``done``, ``done_by``)."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Goal(models.Model):
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="goals",
        verbose_name=_("person"),
    )
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("set by"),
    )
    what = models.CharField(_("what"), max_length=300)
    measure = models.CharField(
        _("measure"),
        max_length=50,
        blank=True,
        help_text=_("Empty: the team lead ticks it done."),
    )
    target = models.DecimalField(
        _("target"),
        max_digits=14,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
    )
    starts = models.DateField(_("from"))
    deadline = models.DateField(_("deadline"))
    created = models.DateTimeField(_("set"), default=timezone.now)
    done = models.DateTimeField(_("ticked done"), null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("ticked by"),
    )

    class Meta:
        verbose_name = _("SMART goal")
        verbose_name_plural = _("SMART goals")
        ordering = ["deadline", "id"]
        indexes = [models.Index(fields=["person", "deadline"], name="goal_person_deadline")]
        constraints = [
            models.CheckConstraint(condition=Q(target__gte=0), name="goal_target_not_negative"),
            models.CheckConstraint(
                condition=Q(deadline__gte=models.F("starts")), name="goal_deadline_after_start"
            ),
            models.CheckConstraint(
                condition=Q(done__isnull=True, done_by__isnull=True)
                | Q(done__isnull=False, done_by__isnull=False),
                name="goal_done_by_whom_and_when",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.what} ({self.person}, {self.deadline})"
