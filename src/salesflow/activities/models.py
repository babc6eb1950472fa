"""What happened with a client besides the stages: activities, the e-mail they carry, the
calls an exchange reported, and the next steps scheduled from them.

* ``Activity`` -- one call, meeting, e-mail, proposal or note about a client (and the deal
  and task, when there is one), by a person or captured by the system. An activity with
  no client is *unmatched*: captured mail or a call whose address or number matched no
  contact; it waits on the triage list (``selectors.unmatched_activities``) until a person
  says whose it is. Queryable by author, kind and time (the targets count them).
* ``MailMessage`` -- one e-mail, stored once (``message_id`` is unique) however many
  clients it concerns and however often it is fetched or imported; each client it
  concerns has an ``Activity`` pointing to it. ``MailAttachment`` -- its files, kept in
  the database up to a size limit (all state is in PostgreSQL: any worker on any machine
  can serve them).
* ``CallIntegration`` -- a telephone exchange allowed to report calls, with the secret its
  requests are signed with; ``ExchangeCall`` -- a reported call, once per exchange call id.
* ``Reminder`` -- a next step promised for a day (on an activity or a handoff note),
  started on that day as a task of the reminder flow for whoever holds the client then.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Activity(models.Model):
    class Kind(models.TextChoices):
        CALL = "call", _("Call")
        MEETING = "meeting", _("Meeting")
        EMAIL = "email", _("E-mail")
        PROPOSAL = "proposal", _("Proposal sent")
        NOTE = "note", _("Note")

    class Direction(models.TextChoices):
        IN = "in", _("Incoming")
        OUT = "out", _("Outgoing")

    class Source(models.TextChoices):
        PERSON = "person", _("Logged by a person")
        MAILBOX = "mailbox", _("Company mailbox")
        IMPORT = "import", _("Imported mailbox")
        PRODUCT = "product", _("Sent from salesflow")
        EXCHANGE = "exchange", _("Telephone exchange")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    direction = models.CharField(
        _("direction"), max_length=3, choices=Direction.choices, blank=True
    )
    source = models.CharField(
        _("source"), max_length=20, choices=Source.choices, default=Source.PERSON
    )
    client = models.ForeignKey(
        "clients.Client",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="activities",
        verbose_name=_("client"),
        help_text=_("Empty: captured mail or a call that matched no client (the triage list)."),
    )
    lead = models.ForeignKey(
        "clients.Lead",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="activities",
        verbose_name=_("deal"),
    )
    task = models.ForeignKey(
        "viewflow.Task",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("task"),
    )
    contact = models.ForeignKey(
        "clients.Contact",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="activities",
        verbose_name=_("contact"),
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("author"),
        help_text=_("Who made the call or wrote the note; empty for mail from a client."),
    )
    occurred = models.DateTimeField(_("when"), default=timezone.now)
    created = models.DateTimeField(_("recorded"), default=timezone.now)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    text = models.TextField(_("what happened"), blank=True)
    outcome = models.CharField(_("outcome"), max_length=300, blank=True)
    duration = models.PositiveIntegerField(_("duration, seconds"), null=True, blank=True)
    # the other side as captured: a phone number or an e-mail address (masked like a contact)
    counterpart = models.CharField(_("their number or address"), max_length=254, blank=True)
    next_step = models.CharField(_("next step"), max_length=300, blank=True)
    next_step_date = models.DateField(_("next step on"), null=True, blank=True)
    mail = models.ForeignKey(
        "MailMessage",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="activities",
        verbose_name=_("e-mail"),
    )
    triaged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("matched by"),
        help_text=_("Who said whose it is, for an activity that matched no client."),
    )

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        ordering = ["-occurred", "-id"]
        indexes = [
            # the client's timeline, newest first
            models.Index(fields=["client", "occurred", "id"], name="activity_timeline"),
            # who made how many calls, meetings, proposals (targets)
            models.Index(fields=["author", "kind", "occurred"], name="activity_author_kind"),
            models.Index(fields=["kind", "occurred"], name="activity_kind_occurred"),
            # the triage list: what matched no client
            models.Index(
                fields=["occurred"], name="activity_unmatched", condition=Q(client__isnull=True)
            ),
            models.Index(fields=["lead", "occurred"], name="activity_deal"),
        ]
        constraints = [
            # one timeline entry per client for an e-mail, however often it arrives
            models.UniqueConstraint(
                fields=["mail", "client"],
                condition=Q(mail__isnull=False, client__isnull=False),
                name="activity_mail_once_per_client",
            ),
            models.UniqueConstraint(
                fields=["mail"],
                condition=Q(mail__isnull=False, client__isnull=True),
                name="activity_mail_unmatched_once",
            ),
            models.CheckConstraint(
                condition=Q(client__isnull=False) | Q(source__in=["mailbox", "import", "exchange"]),
                name="activity_without_client_is_captured",
                violation_error_message=_("An activity a person logs is about a client."),
            ),
            models.CheckConstraint(
                condition=~Q(kind="email") | Q(mail__isnull=False),
                name="activity_email_has_message",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.occurred:%Y-%m-%d %H:%M}"


class MailMessage(models.Model):
    """One e-mail message, stored once. ``message_id`` is its Message-ID header (or, for a
    message without one, a stable one made from its content: ``mail.synthetic_id``)."""

    message_id = models.CharField(_("Message-ID"), max_length=500, unique=True)
    thread_key = models.CharField(
        _("thread"),
        max_length=500,
        db_index=True,
        help_text=_("The Message-ID of the first message of its thread."),
    )
    in_reply_to = models.CharField(_("in reply to"), max_length=500, blank=True)
    subject = models.TextField(_("subject"), blank=True)
    from_address = models.CharField(_("from"), max_length=254, blank=True)
    from_name = models.CharField(_("from (name)"), max_length=300, blank=True)
    to_addresses = models.JSONField(_("to"), default=list, blank=True)
    cc_addresses = models.JSONField(_("copy"), default=list, blank=True)
    sent = models.DateTimeField(_("sent"))
    direction = models.CharField(_("direction"), max_length=3, choices=Activity.Direction.choices)
    text_body = models.TextField(_("text"), blank=True)
    html_body = models.TextField(
        _("HTML (sanitised)"), blank=True, help_text=_("Only safe tags, no scripts or styles.")
    )
    size = models.PositiveIntegerField(_("size, bytes"), default=0)
    attachment_count = models.PositiveSmallIntegerField(_("attachments"), default=0)
    problems = models.TextField(
        _("problems reading it"), blank=True, help_text=_("Malformed parts, unknown charsets.")
    )
    source = models.CharField(_("where it came from"), max_length=300, blank=True)
    created = models.DateTimeField(_("stored"), default=timezone.now)

    class Meta:
        verbose_name = _("e-mail message")
        verbose_name_plural = _("e-mail messages")
        ordering = ["-sent", "-id"]

    def __str__(self) -> str:
        return self.subject or self.message_id


class MailAttachment(models.Model):
    mail = models.ForeignKey(
        MailMessage,
        on_delete=models.CASCADE,
        related_name="attachments",
        verbose_name=_("e-mail"),
    )
    filename = models.CharField(_("file name"), max_length=300)
    content_type = models.CharField(_("type"), max_length=200)
    size = models.PositiveBigIntegerField(_("size, bytes"))
    content = models.BinaryField(_("content"), null=True, blank=True)
    skipped = models.CharField(
        _("not kept"), max_length=300, blank=True, help_text=_("Why the file was not kept.")
    )

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["mail", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(content__isnull=False) | ~Q(skipped=""),
                name="attachment_kept_or_says_why",
            ),
        ]

    def __str__(self) -> str:
        return self.filename


class CallIntegration(models.Model):
    """A telephone exchange that reports calls to ``POST /api/calls/``, signing each
    request with its secret (HMAC-SHA256 over the timestamp and the body)."""

    name = models.SlugField(
        _("name"),
        max_length=50,
        unique=True,
        help_text=_("Sent in the X-Salesflow-Exchange header."),
    )
    secret = models.CharField(
        _("shared secret"), max_length=200, help_text=_("At least 32 characters; keep it secret.")
    )
    active = models.BooleanField(_("active"), default=True)
    created = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("telephone exchange")
        verbose_name_plural = _("telephone exchanges")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(secret__regex=r"^.{32,}$"),
                name="call_integration_secret_long_enough",
                violation_error_message=_("The shared secret needs at least 32 characters."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ExchangeCall(models.Model):
    """A call as the exchange reported it: once per exchange and call id (a retried report
    answers with the first one), with the recording's address."""

    integration = models.ForeignKey(
        CallIntegration, on_delete=models.PROTECT, related_name="calls", verbose_name=_("exchange")
    )
    call_id = models.CharField(_("exchange's call id"), max_length=200)
    activity = models.OneToOneField(
        Activity, on_delete=models.PROTECT, related_name="exchange_call", verbose_name=_("activity")
    )
    recording_url = models.URLField(_("recording"), max_length=1000, blank=True)
    status = models.CharField(_("status at the exchange"), max_length=20)
    payload = models.JSONField(_("as reported"), default=dict)
    received = models.DateTimeField(_("received"), default=timezone.now)

    class Meta:
        verbose_name = _("exchange call")
        verbose_name_plural = _("exchange calls")
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "call_id"], name="exchange_call_once_per_id"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.integration_id}:{self.call_id}"


class Reminder(models.Model):
    """A next step promised for a day: scheduled when the activity or the handoff note that
    names it is recorded, started on its day (``process``) as a task of the reminder flow.

    Exactly one source; each source schedules one reminder (the unique one-to-ones are
    what makes the periodic job safe to run twice or concurrently)."""

    client = models.ForeignKey(
        "clients.Client", on_delete=models.PROTECT, related_name="+", verbose_name=_("client")
    )
    lead = models.ForeignKey(
        "clients.Lead",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("deal"),
    )
    due = models.DateField(_("due on"))
    what = models.TextField(_("what was promised"))
    activity = models.OneToOneField(
        Activity,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reminder",
        verbose_name=_("from the activity"),
    )
    handoff_note = models.OneToOneField(
        "handoff.HandoffNote",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("from the handoff note"),
    )
    promised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("promised by"),
    )
    process = models.OneToOneField(
        "viewflow.Process",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reminder task's process"),
    )
    created = models.DateTimeField(_("scheduled"), default=timezone.now)
    started = models.DateTimeField(_("started"), null=True, blank=True)

    class Meta:
        verbose_name = _("reminder")
        verbose_name_plural = _("reminders")
        ordering = ["due", "id"]
        indexes = [
            models.Index(
                fields=["due"], name="reminder_waiting", condition=Q(process__isnull=True)
            ),
            models.Index(fields=["client", "due"], name="reminder_client"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(activity__isnull=False, handoff_note__isnull=True)
                | Q(activity__isnull=True, handoff_note__isnull=False),
                name="reminder_has_one_source",
            ),
            models.CheckConstraint(
                condition=Q(process__isnull=True, started__isnull=True)
                | Q(process__isnull=False, started__isnull=False),
                name="reminder_started_with_its_process",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.due}: {self.what[:60]}"


class ScanMark(models.Model):
    """How far a periodic scan has read an append-only table (the handoff notes' next
    steps): the next run starts after ``last_id``, less a margin for late commits."""

    name = models.CharField(_("scan"), max_length=50, unique=True)
    last_id = models.BigIntegerField(_("last id read"), default=0)

    class Meta:
        verbose_name = _("scan mark")
        verbose_name_plural = _("scan marks")

    def __str__(self) -> str:
        return f"{self.name}: {self.last_id}"
