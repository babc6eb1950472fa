"""The conveyor's process: viewflow's Process, plus what its gateways read."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from viewflow import jsonstore
from viewflow.workflow.models import Process, Task

from salesflow.activities.models import Activity
from salesflow.clients.models import Client, Contact, DuplicateReview, Lead

from .permissions import (
    DATA_QUALITY_DECLARED,
    DECLARED,
    DISPUTE_DECLARED,
    REMINDER_DECLARED,
    SIDE_TASK_DECLARED,
)


class ConveyorProcess(Process):
    """One deal on the conveyor. The lead, client and order are real models
    (``process.lead``); only the follow-up's decision is kept here, for its gateway."""

    repeat_request = jsonstore.TextField(_("repeat order request"), blank=True, default="")

    class Meta:
        proxy = True
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        permissions = DECLARED


class ReminderProcess(Process):
    """A next step promised to a client, due on its day (``flows.reminders``). What was
    promised is the engine's ``activities.Reminder``; the process only carries its id."""

    class Meta:
        proxy = True
        verbose_name = _("reminder")
        verbose_name_plural = _("reminders")
        permissions = REMINDER_DECLARED


class SideTaskProcess(Process):
    """A piece of non-selling work handed over from a stage (``flows.sidetasks``); what it
    is lives on its ``SideTask``."""

    class Meta:
        proxy = True
        verbose_name = _("side task")
        verbose_name_plural = _("side tasks")
        permissions = SIDE_TASK_DECLARED


class SideTask(models.Model):
    """A side task: who handed it over from which stage, what kind, the brief, whether the
    stage waits for it, and -- when done -- the result and whom it went back to."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    process = models.OneToOneField(
        Process, on_delete=models.PROTECT, related_name="side_task", verbose_name=_("process")
    )
    origin_task = models.ForeignKey(
        Task, on_delete=models.PROTECT, related_name="+", verbose_name=_("handed over from")
    )
    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, related_name="+", verbose_name=_("client")
    )
    lead = models.ForeignKey(
        Lead,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("deal"),
    )
    kind = models.CharField(_("kind"), max_length=30)
    brief = models.TextField(_("brief"))
    waits = models.BooleanField(_("the stage waits for it"), default=False)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("handed over by"),
    )
    created = models.DateTimeField(_("created"), default=timezone.now)
    result = models.TextField(_("result"), blank=True)
    finished = models.DateTimeField(_("finished"), null=True, blank=True)
    finished_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("finished by"),
    )
    # whoever held the stage (or the deal's current stage) when the result came back
    returned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("result returned to"),
    )
    cancel_reason = models.TextField(_("why cancelled"), blank=True)

    class Meta:
        verbose_name = _("side task")
        verbose_name_plural = _("side tasks")
        indexes = [models.Index(fields=["lead", "-created"], name="flows_sidetask_lead")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(brief__regex=r"\S"), name="flows_sidetask_brief_not_empty"
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind}"


class DataQualityProcess(Process):
    """One piece of the base's quality work (``flows.dataquality``); what it is lives on
    its ``DataIssue``."""

    class Meta:
        proxy = True
        verbose_name = _("data-quality task")
        verbose_name_plural = _("data-quality tasks")
        permissions = DATA_QUALITY_DECLARED


class DataIssue(models.Model):
    """Something wrong with the client base, found by a rule (``flows.dataquality_work``):
    a probable duplicate, a card missing what the role files say a card needs, a contact
    that cannot be reached, mail or a call that matched no client. One open issue per
    ``key`` (the scan runs again and again without repeating itself)."""

    class Kind(models.TextChoices):
        DUPLICATE = "duplicate", _("Probable duplicate")
        INCOMPLETE = "incomplete", _("Incomplete card")
        UNREACHABLE = "unreachable", _("Contact bounced or failed")
        UNMATCHED = "unmatched", _("Matched no client")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        FIXED = "fixed", _("Fixed")

    process = models.OneToOneField(
        Process, on_delete=models.PROTECT, related_name="data_issue", verbose_name=_("process")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    key = models.CharField(_("key"), max_length=100)
    client = models.ForeignKey(
        Client,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("client"),
    )
    contact = models.ForeignKey(
        Contact,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("contact"),
    )
    review = models.ForeignKey(
        DuplicateReview,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("duplicate review"),
    )
    activity = models.ForeignKey(
        Activity,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("activity"),
    )
    detail = models.TextField(_("what is wrong"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    created = models.DateTimeField(_("created"), default=timezone.now)
    fixed = models.DateTimeField(_("fixed"), null=True, blank=True)
    fixed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("fixed by"),
    )
    note = models.TextField(_("what was done"), blank=True)

    class Meta:
        verbose_name = _("data issue")
        verbose_name_plural = _("data issues")
        constraints = [
            models.UniqueConstraint(
                fields=["key"],
                condition=models.Q(status="open"),
                name="flows_dataissue_one_open_per_key",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.key}"


class DisputeProcess(Process):
    """A pay dispute being decided (``flows.disputes``); what is disputed, and the answer,
    live on the engine's ``pay.PayDispute``."""

    class Meta:
        proxy = True
        verbose_name = _("pay dispute")
        verbose_name_plural = _("pay disputes")
        permissions = DISPUTE_DECLARED
