"""Roles as the database knows them: one row and one auth group per role file.

The files in ``roles/`` are the source of truth; ``roles_sync`` copies them here so that
membership (a user in the role's group) and permissions work with Django's auth, and so
the admin can show who holds which role.
"""

from django.contrib.auth.models import Group
from django.db import models
from django.utils.translation import gettext_lazy as _

# Permissions the engine defines itself (flows declare the ones of their nodes).
MANAGE_QUEUES = "salesflow.manage_queues"
VIEW_REPORTS = "salesflow.view_reports"
EXPORT_CLIENTS = "salesflow.export_clients"
# the client base's own (clients app): enter a lead by hand or over the API; decide duplicates
ADD_LEAD = "clients.add_lead"
MERGE_CLIENTS = "clients.merge_clients"
ENGINE_PERMISSIONS = (MANAGE_QUEUES, VIEW_REPORTS, EXPORT_CLIENTS, ADD_LEAD, MERGE_CLIENTS)


class Role(models.Model):
    code = models.SlugField(_("code"), max_length=50, unique=True)
    title_en = models.CharField(_("title (English)"), max_length=100)
    title_ru = models.CharField(_("title (Russian)"), max_length=100)
    group = models.OneToOneField(
        Group, on_delete=models.PROTECT, related_name="salesflow_role", verbose_name=_("group")
    )
    source_file = models.CharField(_("source file"), max_length=500)
    definition = models.JSONField(_("definition"), default=dict)
    active = models.BooleanField(
        _("active"), default=True, help_text=_("False once its file is removed from roles/.")
    )
    synced = models.DateTimeField(_("last synced"), auto_now=True)

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        ordering = ["code"]
        default_permissions = ()
        permissions = [
            ("manage_queues", _("Can see every pool and reassign tasks")),
            ("view_reports", _("Can read the daily queue report")),
            ("export_clients", _("Can export the client base")),
        ]

    def __str__(self) -> str:
        return self.title_en


class Notification(models.Model):
    """An e-mail the product sends on its own (the stalled-work notice, the daily report),
    recorded before it is sent: the outbox row the send marks (``salesflow.outbox``).

    ``key`` names what it is about, so a job run twice -- re-queued after its worker was
    killed -- finds the row and does not send again. ``attempted`` is committed before the
    mail server is spoken to and ``sent`` after it accepted: a row attempted and never
    marked sent is a send whose outcome nobody saw (a worker killed in between) -- it is
    not repeated automatically, an admin sees it here."""

    key = models.CharField(_("key"), max_length=200, unique=True)
    subject = models.CharField(_("subject"), max_length=300)
    body = models.TextField(_("body"))
    recipients = models.JSONField(_("recipients"), default=list)
    created = models.DateTimeField(_("recorded"), auto_now_add=True)
    attempted = models.DateTimeField(_("sending started"), null=True, blank=True)
    sent = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created"]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return self.key


class JobDelivery(models.Model):
    """A background job (a Celery task) started and not yet finished -- counted per
    delivery (``salesflow.celery``). A worker killed in the middle (out of memory) leaves
    its row; the broker re-delivers the job (``task_reject_on_worker_lost``), and after
    ``SALESFLOW_JOB_MAX_DELIVERIES`` deliveries of the same attempt the job is *parked*:
    not run again, kept here for an admin (admin → Parked jobs) instead of killing
    workers forever."""

    task_id = models.CharField(_("job id"), max_length=255, unique=True)
    name = models.CharField(_("job"), max_length=255)
    arguments = models.TextField(_("arguments"), blank=True)
    attempt = models.PositiveIntegerField(_("retry number"), default=0)
    deliveries = models.PositiveIntegerField(_("deliveries"), default=0)
    first = models.DateTimeField(_("first started"), auto_now_add=True)
    last = models.DateTimeField(_("last started"), auto_now=True)
    parked = models.DateTimeField(_("parked"), null=True, blank=True)

    class Meta:
        verbose_name = _("parked job")
        verbose_name_plural = _("parked jobs")
        ordering = ["-last"]
        default_permissions = ("view", "delete")

    def __str__(self) -> str:
        return f"{self.name} [{self.task_id}]"
