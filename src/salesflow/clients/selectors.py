"""Reading the client base: matching a lead against it, and showing it -- with every
contact masked for whoever may not see it.

Who sees a contact in full is decided here, once (``contact_entitlement``), for the pages,
the stage page, the API and the export alike:

* nobody sees a phone or an e-mail without asking: the person who holds an active task
  (assigned or started) of one of the client's deals, or whose role declares the field
  (``client_fields`` in ``roles/*.toml``), may *show* (reveal) it -- an explicit action,
  one audit event each, with the task as its reason (``services.contact_reveal``).
  Holding a task is not a licence to copy the client: a claim, a look at every contact
  and a give-back would otherwise read one client after another, unrecorded;
* legal details (public registry data) are shown to a role that declares them;
* handoff notes carry contact data too ("how they prefer to be reached", the delivery
  address): they are read by the holder of one of the client's tasks, and by a role
  that may reveal its contacts -- recorded (``Entitlement.reads_notes``);
* everyone else sees masks (``masking``), and list pages show masks to everyone: a list
  of clients with contacts in full would be a copy of the client base.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from statistics import median
from typing import TYPE_CHECKING, Any

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import connection
from django.db.models import (
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    Max,
    Prefetch,
    Q,
    QuerySet,
    Sum,
)
from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task
from viewflow.workflow.status import PROCESS, STATUS

from salesflow.roles import role_client_fields

from . import normalize
from .masking import mask_email, mask_phone, mask_text
from .models import Client, Contact, DuplicateReview, Lead, Order

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

ACTIVE_TASK = (STATUS.ASSIGNED, STATUS.STARTED)
LEGAL_FIELDS = ("legal_name", "tax_number", "legal_address", "bank_details")
CONTACT_FIELDS = ("phone", "email")


# --- who sees what -------------------------------------------------------------------------


def held_tasks(*, user: User | AnonymousUser, client_id: int) -> QuerySet[Task]:
    """The user's assigned or started tasks of the client's processes (its deals, and
    what serves them or it), oldest first."""
    tasks: QuerySet[Task] = Task.objects.filter(
        Q(process__lead__client_id=client_id) | Q(process__subject__client_id=client_id),
        owner_id=user.pk,
        status__in=ACTIVE_TASK,
    ).order_by("pk")
    return tasks


def holds_active_task(*, user: User | AnonymousUser, client_id: int) -> bool:
    """Whether the user holds an assigned or started task of one of the client's deals."""
    if not user.is_authenticated or not user.is_active:
        return False
    held: bool = held_tasks(user=user, client_id=client_id).exists()
    return held


@dataclass(frozen=True)
class Entitlement:
    """What one user may see of one client."""

    role_fields: frozenset[str]
    holds_task: bool

    def sees(self, field: str) -> bool:
        """Shown in full without asking: legal details to a role that declares them.
        Phones and e-mails are revealed (shown on request, recorded), never just shown."""
        return field == "legal_details" and field in self.role_fields

    def may_reveal(self, field: str) -> bool:
        return field in CONTACT_FIELDS and (self.holds_task or field in self.role_fields)

    @property
    def revealable(self) -> frozenset[str]:
        return frozenset(f for f in CONTACT_FIELDS if self.may_reveal(f))

    @property
    def reads_notes(self) -> bool:
        """Handoff notes follow the contacts: the holder of one of the client's tasks, and
        a role that may reveal its contacts."""
        return self.holds_task or bool(self.role_fields & set(CONTACT_FIELDS))


def contact_entitlement(*, user: User | AnonymousUser, client_id: int) -> Entitlement:
    return Entitlement(
        role_fields=role_client_fields(user),
        holds_task=holds_active_task(user=user, client_id=client_id),
    )


# --- cards: a client or a contact as one user may see it -----------------------------------


@dataclass(frozen=True)
class ContactCard:
    contact: Contact
    phone: str
    email: str
    phone_masked: bool
    email_masked: bool
    can_reveal: bool

    @property
    def masked(self) -> bool:
        return self.phone_masked or self.email_masked

    @classmethod
    def of(
        cls, contact: Contact, entitlement: Entitlement | None, *, revealed: Collection[str] = ()
    ) -> ContactCard:
        """``entitlement`` None: a list page (always masked). ``revealed``: fields the
        caller has just revealed through ``services.contact_reveal``."""
        show_phone = "phone" in revealed or (entitlement is not None and entitlement.sees("phone"))
        show_email = "email" in revealed or (entitlement is not None and entitlement.sees("email"))
        phone_masked = bool(contact.phone) and not show_phone
        email_masked = bool(contact.email) and not show_email
        return cls(
            contact=contact,
            phone=mask_phone(contact.phone) if phone_masked else contact.phone,
            email=mask_email(contact.email) if email_masked else contact.email,
            phone_masked=phone_masked,
            email_masked=email_masked,
            can_reveal=entitlement is not None
            and (
                (phone_masked and entitlement.may_reveal("phone"))
                or (email_masked and entitlement.may_reveal("email"))
            ),
        )


@dataclass(frozen=True)
class ClientCard:
    client: Client
    entitlement: Entitlement
    contacts: list[ContactCard]
    legal: dict[str, str]  # legal_name, tax_number, legal_address, bank_details, as seen
    legal_masked: bool


def client_card(
    *,
    client: Client,
    user: User | AnonymousUser,
    revealed: dict[int, Collection[str]] | None = None,
) -> ClientCard:
    """The client's card for ``user``. ``revealed`` maps contact ids to the fields the
    caller has just revealed (``services.contact_reveal``: checked and audited there).
    Reads the contacts (prefetched, if the caller did) and one query for the task check."""
    entitlement = contact_entitlement(user=user, client_id=client.pk)
    revealed = revealed or {}
    contacts = [
        ContactCard.of(contact, entitlement, revealed=revealed.get(contact.pk, ()))
        for contact in client.contacts.all()
    ]
    show_legal = entitlement.sees("legal_details")
    legal = {
        name: getattr(client, name) if show_legal else mask_text(getattr(client, name))
        for name in LEGAL_FIELDS
    }
    return ClientCard(
        client=client,
        entitlement=entitlement,
        contacts=contacts,
        legal=legal,
        legal_masked=not show_legal and any(getattr(client, n) for n in LEGAL_FIELDS),
    )


# --- the client base -----------------------------------------------------------------------


def client_list(*, search: str = "", status: str = "") -> QuerySet[Client]:
    """Clients (not merged away) for a list page, by name: their contacts prefetched,
    their leads counted. ``search`` matches the name (its key, so case,
    quotes and legal forms do not matter) or the tax number."""
    queryset = Client.objects.filter(merged_into__isnull=True)
    search = search.strip()
    if search:
        key = normalize.name_key(search)
        digits = normalize.tax_key(search)
        condition = Q(name_key__contains=key) if key else Q()
        if digits and len(digits) >= 5:
            condition |= Q(tax_key__startswith=digits)
        queryset = queryset.filter(condition)
    if status:
        queryset = queryset.filter(status=status)
    return (
        queryset.annotate(lead_count=Count("leads", distinct=True), last_lead=Max("leads__created"))
        .order_by("name", "pk")
        .prefetch_related(Prefetch("contacts", queryset=Contact.objects.order_by(*_CONTACT_ORDER)))
    )


_CONTACT_ORDER = ("-is_decision_maker", "name", "pk")


def client_for_card(*, client_id: int) -> Client | None:
    """One client with its contacts and its leads (newest first, with their order and the
    duplicate review they waited in), or None."""
    return (
        Client.objects.select_related("merged_into")
        .prefetch_related(
            Prefetch("contacts", queryset=Contact.objects.order_by(*_CONTACT_ORDER)),
            Prefetch(
                "leads",
                queryset=Lead.objects.select_related("order", "contact", "process").order_by(
                    "-created", "-pk"
                ),
            ),
        )
        .filter(pk=client_id)
        .first()
    )


def contact_with_client(*, contact_id: int) -> Contact | None:
    return Contact.objects.select_related("client").filter(pk=contact_id).first()


def lead_with_client(*, lead_id: int) -> Lead | None:
    return Lead.objects.select_related("client", "contact").filter(pk=lead_id).first()


def clients_for_export() -> QuerySet[Client]:
    """Every client (not merged away) with its contacts, in a stable order, for streaming."""
    return (
        Client.objects.filter(merged_into__isnull=True)
        .order_by("pk")
        .prefetch_related(Prefetch("contacts", queryset=Contact.objects.order_by(*_CONTACT_ORDER)))
    )


def open_duplicate_reviews() -> QuerySet[DuplicateReview]:
    return (
        DuplicateReview.objects.filter(decided__isnull=True)
        .select_related("client", "candidate", "lead")
        .prefetch_related(
            Prefetch("client__contacts", queryset=Contact.objects.order_by(*_CONTACT_ORDER)),
            Prefetch("candidate__contacts", queryset=Contact.objects.order_by(*_CONTACT_ORDER)),
        )
        .order_by("created", "pk")
    )


# --- matching a lead against the client base -----------------------------------------------


class MatchKind(StrEnum):
    NEW_CLIENT = "new_client"
    EXISTING_CLIENT = "existing_client"
    PROBABLE_DUPLICATE = "probable_duplicate"


@dataclass(frozen=True)
class LeadKeys:
    """A lead's matching keys (see ``normalize``)."""

    name: str
    tax: str
    phone: str
    email: str

    @classmethod
    def of(
        cls, *, company: str, tax_number: str = "", phone: str = "", email: str = ""
    ) -> LeadKeys:
        return cls(
            name=normalize.name_key(company),
            tax=normalize.tax_key(tax_number),
            phone=normalize.phone_key(phone),
            email=normalize.email_key(email),
        )

    def lock_names(self) -> list[str]:
        """What two concurrent intakes of one company have in common (see
        ``services.lead_receive``)."""
        pairs = (("name", self.name), ("tax", self.tax), ("phone", self.phone))
        return sorted(f"{kind}:{value}" for kind, value in (*pairs, ("email", self.email)) if value)


@dataclass(frozen=True)
class ClientMatch:
    kind: MatchKind
    client: Client | None = None  # the known client, or the one the lead resembles
    contact: Contact | None = None  # the known contact matched by phone or e-mail
    reason: str = ""  # for the people who decide (it may name a contact and its client)
    by_contact: bool = False  # matched by a contact's phone or e-mail

    @property
    def public_reason(self) -> str:
        """The reason as the intake may tell whoever entered the lead: never whose contact
        a phone or an e-mail is (typing numbers into the intake must not look people up)."""
        if not self.by_contact:
            return self.reason
        if self.kind == MatchKind.EXISTING_CLIENT:
            return _("a phone or e-mail the client base already has")
        return _("a phone or e-mail the client base already has; a team lead checks whose")


def open_deal_of(*, client_id: int) -> Lead | None:
    """The client's deal still under way (its process neither done nor cancelled), the
    latest if there are several; with its order, if it has one."""
    deal: Lead | None = (
        Lead.objects.filter(client_id=client_id, process__isnull=False)
        .exclude(process__status__in=[PROCESS.DONE, PROCESS.CANCELED])
        .select_related("order", "process")
        .order_by("-created", "-pk")
        .first()
    )
    return deal


def client_match(*, keys: LeadKeys) -> ClientMatch:
    """Who a lead is, by its keys, in this order:

    1. the same tax number -> that client (a tax number names one legal entity);
    2. the same phone or e-mail as a contact of exactly one client -> that client, unless
       that client has a different tax number than the lead's (then a person decides);
       contacts of several clients -> a person decides;
    3. the same name (whatever the tax numbers), or a similar name (PostgreSQL trigram
       similarity at least ``SALESFLOW_DUPLICATE_NAME_SIMILARITY``, the same numbers in
       it) and no tax number that tells them apart -> a probable duplicate;
    4. otherwise a new client.

    Index lookups only: at most four queries, none per row of the client base.
    """
    clients = Client.objects.filter(merged_into__isnull=True)
    if keys.tax:
        client = clients.filter(tax_key=keys.tax).first()
        if client is not None:
            return ClientMatch(
                MatchKind.EXISTING_CLIENT,
                client,
                _known_contact(client, keys),
                _("the same tax number"),
            )
    by_contact = Q()
    if keys.phone:
        by_contact |= Q(phone_key=keys.phone)
    if keys.email:
        by_contact |= Q(email_key=keys.email)
    if by_contact:
        contacts = list(
            Contact.objects.filter(by_contact, client__merged_into__isnull=True)
            .select_related("client")
            .order_by("client__created", "client_id", "pk")[:20]
        )
        if contacts:
            return _match_by_contact(contacts, keys)
    return _match_by_name(clients, keys)


def _known_contact(client: Client, keys: LeadKeys) -> Contact | None:
    condition = Q()
    if keys.email:
        condition |= Q(email_key=keys.email)
    if keys.phone:
        condition |= Q(phone_key=keys.phone)
    if not condition:
        return None
    return client.contacts.filter(condition).order_by("pk").first()


def _what_matched(contact: Contact, keys: LeadKeys) -> str:
    if keys.email and contact.email_key == keys.email:
        return _("the same e-mail as %(contact)s at %(client)s") % {
            "contact": contact.name,
            "client": contact.client.name,
        }
    return _("the same phone as %(contact)s at %(client)s") % {
        "contact": contact.name,
        "client": contact.client.name,
    }


def _match_by_contact(contacts: list[Contact], keys: LeadKeys) -> ClientMatch:
    by_client: dict[int, Contact] = {}  # per client, its e-mail match before a phone match
    for contact in contacts:
        if keys.email and contact.email_key == keys.email:
            by_client.setdefault(contact.client_id, contact)
    for contact in contacts:
        by_client.setdefault(contact.client_id, contact)
    first = next(iter(by_client.values()))
    if len(by_client) > 1:
        return ClientMatch(
            MatchKind.PROBABLE_DUPLICATE,
            first.client,
            reason=_("%(what)s, and contacts of %(count)d other clients match too")
            % {"what": _what_matched(first, keys), "count": len(by_client) - 1},
            by_contact=True,
        )
    client = first.client
    if keys.tax and client.tax_key and client.tax_key != keys.tax:
        return ClientMatch(
            MatchKind.PROBABLE_DUPLICATE,
            client,
            reason=_("%(what)s, but a different tax number") % {"what": _what_matched(first, keys)},
            by_contact=True,
        )
    return ClientMatch(
        MatchKind.EXISTING_CLIENT, client, first, _what_matched(first, keys), by_contact=True
    )


def _match_by_name(clients: QuerySet[Client], keys: LeadKeys) -> ClientMatch:
    if not keys.name:
        return ClientMatch(MatchKind.NEW_CLIENT)
    # The very same name is for a person to look at even under another tax number: a
    # mistyped INN (or a new legal entity of the same company) is likelier than a
    # namesake, and one look costs less than a client base with the company twice.
    same = clients.filter(name_key=keys.name).order_by("created", "pk").first()
    if same is not None:
        if keys.tax and same.tax_key and same.tax_key != keys.tax:
            reason = _("the same name as %(client)s, but a different tax number")
        else:
            reason = _("the same name as %(client)s")
        return ClientMatch(
            MatchKind.PROBABLE_DUPLICATE, same, reason=reason % {"client": same.name}
        )
    if keys.tax:
        # a merely similar name under another tax number is another legal entity
        clients = clients.filter(Q(tax_key="") | Q(tax_key=keys.tax))
    for candidate, similarity in _similar_names(clients, keys.name):
        if normalize.name_numbers(candidate.name_key) == normalize.name_numbers(keys.name):
            return ClientMatch(
                MatchKind.PROBABLE_DUPLICATE,
                candidate,
                reason=_("a name similar to %(client)s (%(percent)d%%)")
                % {"client": candidate.name, "percent": round(similarity * 100)},
            )
    return ClientMatch(MatchKind.NEW_CLIENT)


def _similar_names(clients: QuerySet[Client], key: str) -> Iterable[tuple[Client, float]]:
    """Clients with a trigram-similar name key, most similar first (PostgreSQL; the GIN
    index of migration 0003 serves the ``%`` operator). Nothing on other databases."""
    if connection.vendor != "postgresql":
        return []
    from django.contrib.postgres.search import TrigramSimilarity

    threshold = settings.SALESFLOW_DUPLICATE_NAME_SIMILARITY
    rows: Any = (
        clients.filter(name_key__trigram_similar=key)
        .annotate(similarity=TrigramSimilarity("name_key", key))
        .filter(similarity__gte=threshold)
        .order_by("-similarity", "created", "pk")[:5]
    )
    return [(client, client.similarity) for client in rows]


# --- lapsed customers (the intake calls them back) ---------------------------------------

RECENT = relativedelta(months=9)  # "what they bought lately" for ranking and eligibility
MIN_CYCLE, MAX_CYCLE = 7, 365  # days: a cycle outside this is noise, not a habit


@dataclass(frozen=True)
class LapsedClient:
    client_id: int
    last_delivery: date
    cycle_days: int
    due: date  # when the current cycle ran out
    bought_recently: Decimal


def reorder_cycle(deliveries: Sequence[date]) -> int:
    """A client's reorder cycle in days: the median gap between their consecutive
    deliveries (two or more), else ``SALESFLOW_REORDER_CYCLE_DAYS``; kept within a week and
    a year. The median, not the mean: one late order should not stretch the habit."""
    days = sorted(set(deliveries))
    if len(days) < 2:
        cycle = settings.SALESFLOW_REORDER_CYCLE_DAYS
    else:
        cycle = round(median((b - a).days for a, b in zip(days, days[1:], strict=False)))
    return max(MIN_CYCLE, min(MAX_CYCLE, int(cycle)))


def lapsed_clients(*, today: date) -> list[LapsedClient]:
    """Customers whose reorder cycle has run out by ``today``, best buyers first.

    Eligible: a delivery within the last 9 months (a client silent for longer is lost, not
    lapsed), no deal open, and today at least one cycle after the last delivery. ``due`` is
    the latest cycle boundary passed -- last delivery + n x cycle -- so a client who does
    not come back after one call is called again one cycle later, not every day. Ranked by
    what they bought (order totals) in those 9 months. SQL aggregates for the candidates,
    then one query for their delivery dates.
    """
    since = today - RECENT
    since_moment = timezone.make_aware(datetime.combine(since, time.min))
    total = ExpressionWrapper(
        F("leads__order__amount") * (Decimal(100) - F("leads__order__discount")) / Decimal(100),
        output_field=DecimalField(max_digits=16, decimal_places=2),
    )
    delivered_since = Q(leads__order__delivered__gte=since_moment)
    candidates = {
        row["pk"]: row
        for row in Client.objects.filter(status=Client.Status.CUSTOMER, merged_into__isnull=True)
        .exclude(leads__process__status=PROCESS.NEW)
        .annotate(
            last=Max("leads__order__delivered"),
            bought=Sum(total, filter=delivered_since),
        )
        .filter(last__gte=since_moment)
        .values("pk", "last", "bought")
    }
    deliveries: dict[int, list[date]] = {}
    for client_id, delivered in (
        Order.objects.filter(lead__client_id__in=candidates, delivered__isnull=False)
        .order_by("delivered")
        .values_list("lead__client_id", "delivered")
    ):
        deliveries.setdefault(client_id, []).append(timezone.localdate(delivered))
    lapsed = []
    for client_id, row in candidates.items():
        last = timezone.localdate(row["last"])
        cycle = reorder_cycle(deliveries.get(client_id, [last]))
        cycles_passed = (today - last).days // cycle
        if cycles_passed < 1:
            continue
        lapsed.append(
            LapsedClient(
                client_id=client_id,
                last_delivery=last,
                cycle_days=cycle,
                due=last + timedelta(days=cycles_passed * cycle),
                bought_recently=row["bought"] or Decimal("0"),
            )
        )
    lapsed.sort(key=lambda c: (-c.bought_recently, c.due, c.client_id))
    return lapsed
