"""The company's client base: clients, their people, leads and orders.

The client belongs to the company, not to a manager: everything a manager learns about a
client lives here, in one database, where the next person on the conveyor finds it.

A conveyor process is linked to its lead by ``Lead.process`` (one lead per process) and the
lead to its order by ``Order.lead``; a process that is not a deal but serves one, or a
client (a side task, a reminder), is linked by a ``ProcessSubject``. These are real foreign
keys rather than viewflow's generic ``artifact`` reference so that the inboxes can join and
sort tasks by the lead's and the order's columns in one query.

Clients and contacts carry matching keys (``name_key``, ``tax_key``, ``phone_key``,
``email_key``; see ``normalize``): derived from their own fields on every save, stored in
indexed columns so that the intake finds a known client by an index lookup.
"""

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import BigIntegerField, F, Q, Value
from django.db.models.expressions import CombinedExpression, ExpressionWrapper
from django.db.models.functions import Cast, Round
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import normalize


def _with_keys(update_fields: Iterable[str] | None, sources: dict[str, str]) -> set[str] | None:
    """``update_fields`` plus the key columns derived from the fields it names."""
    if update_fields is None:
        return None
    fields = set(update_fields)
    fields.update(key for source, key in sources.items() if source in fields)
    return fields


class Client(models.Model):
    """A company the business sells to, or hopes to."""

    class Status(models.TextChoices):
        PROSPECT = "prospect", _("Prospect")
        CUSTOMER = "customer", _("Customer")

    name = models.CharField(_("company name"), max_length=200)
    legal_name = models.CharField(_("legal name"), max_length=300, blank=True)
    tax_number = models.CharField(_("tax number"), max_length=20, blank=True, db_index=True)
    legal_address = models.TextField(_("legal address"), blank=True)
    bank_details = models.TextField(_("bank details"), blank=True)
    website = models.URLField(_("website"), blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PROSPECT
    )
    notes = models.TextField(_("notes"), blank=True)
    created = models.DateTimeField(_("created"), default=timezone.now)
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="merged_clients",
        verbose_name=_("merged into"),
        help_text=_(
            "Set when this client turned out to be a duplicate: its leads, contacts and "
            "notes moved there. Kept (not deleted) because the audit trail refers to it."
        ),
    )
    # matching keys, derived from the fields above on every save (see normalize)
    name_key = models.CharField(max_length=200, db_index=True, editable=False, blank=True)
    tax_key = models.CharField(max_length=20, editable=False, blank=True)

    KEYS = {"name": "name_key", "tax_number": "tax_key"}

    class Meta:
        verbose_name = _("client")
        verbose_name_plural = _("clients")
        ordering = ["name"]
        permissions = [
            ("merge_clients", _("Can merge probable duplicate clients or keep them apart")),
        ]
        constraints = [
            # Two clients with one tax number are one company entered twice; the database
            # refuses the second even when two intakes race.
            models.UniqueConstraint(
                fields=["tax_key"],
                condition=~Q(tax_key=""),
                name="client_tax_number_unique",
                violation_error_message=_("A client with this tax number already exists."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.name_key = normalize.name_key(self.name)
        self.tax_key = normalize.tax_key(self.tax_number)
        kwargs["update_fields"] = _with_keys(kwargs.get("update_fields"), self.KEYS)
        super().save(*args, **kwargs)


class Contact(models.Model):
    """A person at a client: whom to call, and who decides."""

    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, related_name="contacts", verbose_name=_("client")
    )
    name = models.CharField(_("name"), max_length=200)
    position = models.CharField(_("position"), max_length=200, blank=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    is_decision_maker = models.BooleanField(_("decision maker"), default=False)
    # matching keys, derived from phone and email on every save (see normalize)
    phone_key = models.CharField(max_length=20, db_index=True, editable=False, blank=True)
    email_key = models.CharField(max_length=254, db_index=True, editable=False, blank=True)

    KEYS = {"phone": "phone_key", "email": "email_key"}

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["-is_decision_maker", "name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.phone_key = normalize.phone_key(self.phone)
        self.email_key = normalize.email_key(self.email)
        kwargs["update_fields"] = _with_keys(kwargs.get("update_fields"), self.KEYS)
        super().save(*args, **kwargs)


class Lead(models.Model):
    """One deal's way along the conveyor: where it came from and what qualification said."""

    class Source(models.TextChoices):
        WEB_FORM = "web_form", _("Web form")
        IMPORT = "import", _("File import")
        API = "api", _("API")
        MANUAL = "manual", _("Entered by a person")
        REPEAT_ORDER = "repeat_order", _("Repeat order")
        REACTIVATION = "reactivation", _("Reactivation")

    class Status(models.TextChoices):
        NEW = "new", _("New")
        QUALIFIED = "qualified", _("Qualified")
        DISQUALIFIED = "disqualified", _("Disqualified")
        NURTURE = "nurture", _("Nurture")
        LOST = "lost", _("Lost: no order")
        JOINED = "joined", _("Joined the client's open deal")

    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, related_name="leads", verbose_name=_("client")
    )
    contact = models.ForeignKey(
        Contact,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="leads",
        verbose_name=_("contact"),
    )
    process = models.OneToOneField(
        "viewflow.Process",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="lead",
        verbose_name=_("process"),
    )
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    source_detail = models.CharField(
        _("source detail"), max_length=200, blank=True, help_text=_("Campaign, file, system.")
    )
    request = models.TextField(_("what the client asked for"), blank=True)
    unverified_contact = models.JSONField(
        _("contact given, not verified"),
        default=dict,
        blank=True,
        help_text=_(
            "What an unauthenticated lead (the public web form) gave as its contact, for a "
            "client the company already had: kept here, not among the client's contacts, "
            "until a person confirms it (name, position, phone, email)."
        ),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.NEW
    )
    disqualification_reason = models.TextField(_("disqualification reason"), blank=True)
    lost_reason = models.TextField(
        _("why no order"), blank=True, help_text=_("Why a qualified client did not order.")
    )
    nurture_until = models.DateField(_("nurture until"), null=True, blank=True)
    joined = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="joined_leads",
        verbose_name=_("joined the deal"),
        help_text=_(
            "A lead of a client that had a deal open: it started no deal of its own, its "
            "request was added to that one."
        ),
    )
    created = models.DateTimeField(_("created"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        ordering = ["-created"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="disqualified") | ~Q(disqualification_reason=""),
                name="lead_disqualified_has_reason",
                violation_error_message=_("A disqualified lead needs a reason."),
            ),
            models.CheckConstraint(
                condition=~Q(status="lost") | ~Q(lost_reason=""),
                name="lead_lost_has_reason",
                violation_error_message=_("A lost deal needs the reason the client gave."),
            ),
            models.CheckConstraint(
                condition=~Q(status="nurture") | Q(nurture_until__isnull=False),
                name="lead_nurture_has_date",
                violation_error_message=_("A nurtured lead needs a date to come back."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client} ({self.get_source_display()})"


class Order(models.Model):
    """What the client buys on this deal: specification, terms, documents and delivery."""

    lead = models.OneToOneField(
        Lead, on_delete=models.PROTECT, related_name="order", verbose_name=_("lead")
    )
    specification = models.TextField(_("specification"), blank=True)
    amount = models.DecimalField(
        _("amount"),
        max_digits=14,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=[MinValueValidator(Decimal("0.00"))],
    )
    discount = models.DecimalField(
        _("discount, %"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    discount_needs_approval = models.BooleanField(
        _("discount needs approval"),
        default=False,
        help_text=_("Set when the discount exceeds the limit of the role that granted it."),
    )
    discount_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("discount approved by"),
    )
    terms = models.TextField(_("commercial terms"), blank=True)
    # the document clerk's checklist
    contract_signed = models.BooleanField(_("contract signed"), default=False)
    invoice_issued = models.BooleanField(_("invoice issued"), default=False)
    closing_acts_prepared = models.BooleanField(_("closing acts prepared"), default=False)
    # the expeditor's part
    delivery_address = models.TextField(_("delivery address"), blank=True)
    delivery_date = models.DateField(_("delivery date"), null=True, blank=True)
    # One rule (README, "Delivery"): a delivery counts -- in the daily report, in pay, in
    # a client's reorder cycle -- at the moment it is recorded (the delivery stage's
    # completion), never at an invented hour of a typed day; the day the client received
    # the goods, as the expeditor states it, is kept beside it.
    delivered = models.DateTimeField(
        _("delivery recorded"),
        null=True,
        blank=True,
        help_text=_("When the delivery stage was completed: the day reports count it on."),
    )
    delivered_on = models.DateField(
        _("received by the client on"),
        null=True,
        blank=True,
        help_text=_("The day the client received the goods, as the expeditor stated it."),
    )
    originals_returned = models.BooleanField(_("signed originals returned"), default=False)
    created = models.DateTimeField(_("created"), default=timezone.now)

    DOCUMENT_FIELDS = ("contract_signed", "invoice_issued", "closing_acts_prepared")

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created"]
        indexes = [
            # the orders delivered in a period with what their totals need (the funnel, the
            # delivery measures): an index-only range scan of that period's deliveries
            models.Index(
                fields=["delivered"],
                include=["lead", "amount", "discount"],
                name="order_delivered",
                condition=Q(delivered__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="order_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(discount__gte=0) & Q(discount__lte=100),
                name="order_discount_is_a_percentage",
            ),
        ]

    def __str__(self) -> str:
        return _("Order #%(pk)s for %(client)s") % {"pk": self.pk, "client": self.lead.client}

    @property
    def documents_missing(self) -> list[str]:
        """Verbose names of the checklist items not done yet."""
        return [
            str(getattr(self._meta.get_field(name), "verbose_name", name))
            for name in self.DOCUMENT_FIELDS
            if not getattr(self, name)
        ]

    @property
    def total(self) -> Decimal:
        """The amount after discount, to the kopeck, half up (as pay rounds every figure;
        ``total_kopecks`` is the same rule in SQL)."""
        return (self.amount * (Decimal(100) - self.discount) / Decimal(100)).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )


def total_kopecks(order: str = "") -> ExpressionWrapper[CombinedExpression]:
    """``Order.total`` in whole kopecks as an SQL expression over the order reached by
    the path ``order`` (``""`` from Order itself, ``"lead__order"`` from a Lead), for
    sums the database adds up: in integers, because SQLite keeps decimals as floating
    point (985.985 is 985.98499... there, and ``ROUND`` would give 985.98); amount and
    discount have two decimals, so both are exact as hundredths, and ``(a * (10000 - d)
    + 5000) / 10000`` is the half-up rounding in integer division on both databases."""
    prefix = f"{order}__" if order else ""

    def hundredths(field: str) -> Cast:
        return Cast(Round(F(prefix + field) * Value(100)), BigIntegerField())

    scaled = CombinedExpression(hundredths("amount"), "*", Value(10000) - hundredths("discount"))
    return ExpressionWrapper((scaled + Value(5000)) / Value(10000), output_field=BigIntegerField())


def money(kopecks: int | None) -> Decimal:
    """Whole kopecks (a ``total_kopecks`` sum) as money."""
    return (Decimal(kopecks or 0) / 100).quantize(Decimal("0.01"))


class DuplicateReview(models.Model):
    """A lead whose company looks like a client the company already has, without a hard
    match (same tax number, phone or e-mail) to say so for certain.

    The intake creates the lead's client as a new one and holds the lead -- no process,
    nobody's pool -- until a person decides: merge it into ``candidate`` (the lead goes on
    as the known client's) or keep it apart (a new company; the lead goes to the hunters).
    """

    class Decision(models.TextChoices):
        MERGED = "merged", _("Merged into the existing client")
        KEPT_APART = "kept_apart", _("Kept as a new client")

    lead = models.OneToOneField(
        Lead, on_delete=models.PROTECT, related_name="duplicate_review", verbose_name=_("lead")
    )
    client = models.ForeignKey(
        Client,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("new client"),
        help_text=_("Created by the intake for the lead; merged or kept by the decision."),
    )
    candidate = models.ForeignKey(
        Client,
        on_delete=models.PROTECT,
        related_name="duplicate_reviews",
        verbose_name=_("existing client"),
    )
    reason = models.TextField(_("why it looks like a duplicate"))
    created = models.DateTimeField(_("created"), default=timezone.now)
    decision = models.CharField(_("decision"), max_length=20, choices=Decision.choices, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided = models.DateTimeField(_("decided"), null=True, blank=True)

    class Meta:
        verbose_name = _("probable duplicate")
        verbose_name_plural = _("probable duplicates")
        ordering = ["created", "id"]
        indexes = [
            models.Index(
                fields=["created"], name="duplicate_review_open", condition=Q(decided__isnull=True)
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(decision="", decided_by__isnull=True, decided__isnull=True)
                | (~Q(decision="") & Q(decided_by__isnull=False, decided__isnull=False)),
                name="duplicate_review_decided_by_whom_and_when",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client} ~ {self.candidate}"


class Reactivation(models.Model):
    """A lapsed client called back to the account pool: one per client per reorder cycle.

    ``due`` is the day the client's cycle ran out (its last delivery plus the cycle, or a
    multiple of it for a client who did not come back after an earlier call); the unique
    constraint is what makes the beat job safe to run twice or concurrently.
    """

    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, related_name="reactivations", verbose_name=_("client")
    )
    due = models.DateField(_("reorder was due"))
    cycle_days = models.PositiveIntegerField(_("reorder cycle, days"))
    last_delivery = models.DateField(_("last delivery"))
    bought_recently = models.DecimalField(
        _("bought in the last 9 months"), max_digits=16, decimal_places=2
    )
    lead = models.OneToOneField(
        Lead,
        on_delete=models.PROTECT,
        related_name="reactivation",
        verbose_name=_("lead"),
    )
    created = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("reactivation")
        verbose_name_plural = _("reactivations")
        ordering = ["-created"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "due"], name="reactivation_once_per_client_per_cycle"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client} (due {self.due})"


class ProcessSubject(models.Model):
    """What a process that is not itself a deal is about: a client, and the deal (lead) it
    serves, if any -- a side task handed over from a stage, a reminder, a card to fix.

    A deal's own process is linked by ``Lead.process`` instead; the engine asks which
    client a process is about in one place (``salesflow.conveyor.selectors``), which reads
    both, so masking, separation of duties and the audit trail treat such a process's
    tasks like the deal's."""

    process = models.OneToOneField(
        "viewflow.Process",
        on_delete=models.PROTECT,
        primary_key=True,
        related_name="subject",
        verbose_name=_("process"),
    )
    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, related_name="+", verbose_name=_("client")
    )
    lead = models.ForeignKey(
        Lead,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="served_by",
        verbose_name=_("deal it serves"),
    )

    class Meta:
        verbose_name = _("process subject")
        verbose_name_plural = _("process subjects")
        indexes = [models.Index(fields=["client"], name="process_subject_client")]

    def __str__(self) -> str:
        return f"process {self.process_id} -> client {self.client_id}"
