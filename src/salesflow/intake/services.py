"""How leads come in and deals start: every channel's lead, probable duplicates decided,
lapsed customers called back.

Every channel -- the public web form, the file import, the API, a person entering a lead --
calls ``lead_receive``: it normalises what arrived, matches it against the client base
(``clients.selectors.client_match``) and either starts a deal for a new client (the
hunters' pool), starts one for the known client (a customer goes to the account pool as a
repeat order), or holds the lead as a probable duplicate until a person merges it or keeps
it apart. ``lead_intake`` is the step behind it for a client already known (follow-up
repeat orders, reactivation, the simulator).

Starting a deal needs both the client base and the flows (``conveyor.registry``); this
module sits above both, so neither has to know the other.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from salesflow.audit.models import AuditEvent
from salesflow.audit.services import audit_record
from salesflow.clients import selectors
from salesflow.clients.models import Client, Contact, DuplicateReview, Lead, Reactivation
from salesflow.clients.selectors import ClientMatch, LapsedClient, LeadKeys, MatchKind
from salesflow.clients.services import client_merge
from salesflow.conveyor.registry import start_node
from salesflow.exceptions import ClaimConflict, NotFound, NotPermitted
from salesflow.models import ADD_LEAD, MERGE_CLIENTS

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from datetime import date

    from django.contrib.auth.models import User


# --- a lead arrives ----------------------------------------------------------------------


@dataclass(frozen=True)
class LeadData:
    """A lead as a channel received it, before anything is known about who it is.

    The channel's form or serializer has checked it (a company name, a way to reach
    somebody); ``lead_receive`` does not trust it to be normalised.
    """

    company: str
    contact_name: str = ""
    position: str = ""
    phone: str = ""
    email: str = ""
    tax_number: str = ""
    request: str = ""
    source_detail: str = ""


@dataclass(frozen=True)
class IntakeResult:
    lead: Lead
    outcome: MatchKind
    client: Client  # the lead's client now (new, known, or created and held for review)
    reason: str  # why the intake decided so, as it may be told ("the same tax number")
    review: DuplicateReview | None = None
    # whether the answer may name the client: not when a phone or an e-mail found it --
    # the intake must not tell whose contact a number is
    discloses_client: bool = True

    @property
    def started(self) -> bool:
        return self.lead.process_id is not None


def _lock_keys(keys: LeadKeys) -> None:
    """Serialise concurrent intakes of the same company (PostgreSQL advisory locks, held
    until the transaction ends), so that two submissions of one new company arriving at
    once make one client and not two. Locks are taken in a fixed order: no deadlocks.
    Other databases serialise writers anyway."""
    names = keys.lock_names()
    if not names or connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(k)) FROM unnest(%s::text[]) AS k ORDER BY k",
            [_INTAKE_LOCK_SPACE, names],
        )


_INTAKE_LOCK_SPACE = 0x5A1E  # the first key of the two-key advisory locks the intake takes


def _contact_create(client: Client, data: LeadData) -> Contact | None:
    if not (data.contact_name.strip() or data.phone.strip() or data.email.strip()):
        return None
    return Contact.objects.create(
        client=client,
        name=(data.contact_name.strip() or data.email.strip() or data.phone.strip())[:200],
        position=data.position.strip()[:200],
        phone=data.phone.strip()[:50],
        email=data.email.strip()[:254],
    )


def _unverified(data: LeadData) -> dict[str, str]:
    given = {
        "name": data.contact_name.strip()[:200],
        "position": data.position.strip()[:200],
        "phone": data.phone.strip()[:50],
        "email": data.email.strip()[:254],
    }
    return {key: value for key, value in given.items() if value}


def _client_create(data: LeadData) -> Client:
    return Client.objects.create(
        name=data.company.strip()[:200], tax_number=data.tax_number.strip()[:20]
    )


@transaction.atomic
def lead_receive(*, data: LeadData, source: str, created_by: User | None = None) -> IntakeResult:
    """Take a lead from any channel into the client base and onto the conveyor.

    * a company the base does not know: a new client and contact; the deal starts in the
      hunters' pool;
    * a known client (same tax number, or the same phone or e-mail as one of its contacts):
      the lead is that client's -- a customer's goes to the account pool as a repeat order
      (never to a hunter), a prospect's to the hunters; a new person becomes its contact --
      except from the public web form (no sign-in: anyone can type a known tax number next
      to any phone), whose contact is kept on the lead as unverified until a person
      confirms it (``clients.services.lead_contact_confirm``);
    * only a similar name, or contacts that point at several clients: the lead is held with
      a new client and a ``DuplicateReview`` until a person decides (``duplicate_merge`` /
      ``duplicate_keep_apart``).

    One transaction; concurrent intakes of the same company are serialised (``_lock_keys``).
    """
    keys = LeadKeys.of(
        company=data.company, tax_number=data.tax_number, phone=data.phone, email=data.email
    )
    _lock_keys(keys)
    match = selectors.client_match(keys=keys)
    unverified: dict[str, str] = {}
    if match.kind == MatchKind.EXISTING_CLIENT:
        assert match.client is not None
        client = match.client
        contact = match.contact
        if contact is None and source == Lead.Source.WEB_FORM:
            unverified = _unverified(data)
        elif contact is None:
            contact = _contact_create(client, data)
    else:
        client = _client_create(data)
        contact = _contact_create(client, data)
    if match.kind == MatchKind.EXISTING_CLIENT:
        joined = _join_open_deal(
            client=client,
            data=data,
            source=source,
            contact=contact,
            created_by=created_by,
            unverified=unverified,
        )
        if joined is not None:
            return IntakeResult(
                lead=joined,
                outcome=match.kind,
                client=client,
                reason=match.public_reason,
                discloses_client=not match.by_contact,
            )
    if match.kind != MatchKind.PROBABLE_DUPLICATE:
        lead = lead_intake(
            client=client,
            source=source,
            request=data.request.strip(),
            contact=contact,
            source_detail=data.source_detail.strip()[:200],
            created_by=created_by,
            unverified_contact=unverified,
        )
        return IntakeResult(
            lead=lead,
            outcome=match.kind,
            client=client,
            reason=match.public_reason,
            discloses_client=not match.by_contact,
        )
    assert match.client is not None
    lead = Lead.objects.create(
        client=client,
        contact=contact,
        source=source,
        source_detail=data.source_detail.strip()[:200],
        request=data.request.strip(),
        created_by=created_by,
    )
    review = DuplicateReview.objects.create(
        lead=lead, client=client, candidate=match.client, reason=match.reason
    )
    return IntakeResult(
        lead=lead,
        outcome=match.kind,
        client=client,
        review=review,
        reason=match.public_reason,
        discloses_client=not match.by_contact,
    )


def _same_request(a: str, b: str) -> bool:
    return " ".join(a.lower().split()) == " ".join(b.lower().split())


def _another_order(deal: Lead, request: str) -> bool:
    """Clearly another order: the open deal's order has been prepared already (its
    terms are set and handed on) and the new lead asks for something else. While the deal
    is still being qualified or its order prepared, a second lead is the same inquiry."""
    if not request or not hasattr(deal, "order"):
        return False
    asked = [deal.request, *deal.joined_leads.values_list("request", flat=True)]
    return not any(_same_request(request, earlier) for earlier in asked)


def _join_open_deal(
    *,
    client: Client,
    data: LeadData,
    source: str,
    contact: Contact | None,
    created_by: User | None,
    unverified: dict[str, str],
) -> Lead | None:
    """A second lead of a client with a deal open joins that deal -- unless it is clearly
    another order (``_another_order``): the lead is kept (where it came from, what it
    asked) with no deal of its own, a JOIN audit event on the deal's current task says
    so (the stage page shows the joined requests), and the task's holder is e-mailed.
    None: no open deal, or another order -- start a deal as usual."""
    deal = selectors.open_deal_of(client_id=client.pk)
    request = data.request.strip()
    if deal is None or _another_order(deal, request):
        return None
    lead = Lead.objects.create(
        client=client,
        contact=contact,
        source=source,
        source_detail=data.source_detail.strip()[:200],
        request=request,
        created_by=created_by,
        unverified_contact=unverified,
        status=Lead.Status.JOINED,
        joined=deal,
    )
    task = (
        Task.objects.filter(
            process_id=deal.process_id,
            flow_task_type="HUMAN",
            status__in=[STATUS.NEW, STATUS.ASSIGNED, STATUS.STARTED],
        )
        .select_related("owner")
        .order_by("-created", "-pk")
        .first()
    )
    audit_record(
        action=AuditEvent.Action.JOIN,
        actor=created_by,
        task=task,
        process_id=deal.process_id,
        client_id=client.pk,
        reason=request or _("(no request given)"),
        data={"lead": lead.pk, "deal": deal.pk, "source": source},
    )
    holder = task.owner if task is not None and task.owner_id is not None else None
    if holder is not None and holder.is_active and holder.email:
        transaction.on_commit(partial(_tell_holder, holder.email, deal.pk, lead.pk, task.pk))
    return lead


def _tell_holder(email: str, deal_id: int, lead_id: int, task_id: int) -> None:
    """The holder of a deal's task hears of the lead that joined it (after the commit; a
    mail server that refuses is logged: the joined request is on the task's page anyway)."""
    try:
        send_mail(
            _("A new request joined your deal #%(deal)s") % {"deal": deal_id},
            _(
                "Lead #%(lead)s of the same client joined the deal you hold (task #%(task)s) "
                "instead of opening another one. Its request is shown on the task's page."
            )
            % {"lead": lead_id, "task": task_id},
            settings.DEFAULT_FROM_EMAIL,
            [email],
        )
    except Exception:  # a mail server's failure must not undo the intake
        logger.exception("telling the holder of task #%s about lead #%s failed", task_id, lead_id)


def lead_enter(*, data: LeadData, user: User, source: str = Lead.Source.MANUAL) -> IntakeResult:
    """A person (the lead page) or an integration (the API) enters a lead on its own
    account: needs the permission to enter leads; then as ``lead_receive``."""
    if not user.is_active or not user.has_perm(ADD_LEAD):
        raise NotPermitted(_("Your roles do not include entering leads."))
    return lead_receive(data=data, source=source, created_by=user)


@transaction.atomic
def lead_intake(
    *,
    client: Client,
    source: str,
    request: str = "",
    contact: Contact | None = None,
    source_detail: str = "",
    created_by: User | None = None,
    unverified_contact: dict[str, str] | None = None,
) -> Lead:
    """Register a lead of a known client and put it on the conveyor (see ``lead_start``).

    Channels bringing leads from outside call ``lead_receive`` instead, which finds out
    whether the client is known first.
    """
    lead = Lead.objects.create(
        client=client,
        contact=contact,
        source=source,
        source_detail=source_detail,
        request=request,
        created_by=created_by,
        unverified_contact=unverified_contact or {},
    )
    return lead_start(lead=lead)


def lead_start(*, lead: Lead) -> Lead:
    """Start the lead's deal: a client the company already sells to goes straight to the
    account pool as a repeat order (``SALESFLOW_REPEAT_ORDER_NODE``) -- hunters must not
    "re-discover" existing clients -- with where it came from kept in ``source_detail``;
    anyone else starts at the hunters' stage (``SALESFLOW_INTAKE_NODE``).

    Call inside a transaction, with a lead that has no process yet.
    """
    is_customer = lead.client.status == Client.Status.CUSTOMER
    if is_customer:
        if lead.source not in (Lead.Source.REPEAT_ORDER, Lead.Source.REACTIVATION):
            origin = str(Lead.Source(lead.source).label)
            lead.source_detail = (
                f"{origin}: {lead.source_detail}" if lead.source_detail else origin
            )[:200]
            lead.source = Lead.Source.REPEAT_ORDER
        lead.status = Lead.Status.QUALIFIED
    node = start_node("SALESFLOW_REPEAT_ORDER_NODE" if is_customer else "SALESFLOW_INTAKE_NODE")
    node.run(lead=lead)  # an Intake node: links lead.process before the first stage exists
    lead.save(update_fields=["process", "source", "source_detail", "status"])
    return lead


# --- probable duplicates: a person decides -------------------------------------------------


def _review_to_decide(*, review_id: int, user: User) -> DuplicateReview:
    """The open review, locked, if ``user`` may decide it."""
    if not user.is_active or not user.has_perm(MERGE_CLIENTS):
        raise NotPermitted(
            _("Only a team lead or a database operator can merge clients or keep them apart.")
        )
    review = (
        DuplicateReview.objects.select_for_update(of=("self",))
        .select_related("lead", "client", "candidate", "decided_by")
        .filter(pk=review_id)
        .first()
    )
    if review is None:
        raise NotFound(_("Probable duplicate #%(id)s does not exist.") % {"id": review_id})
    if review.decided is not None:
        raise ClaimConflict(
            _("%(who)s has already decided on this lead (%(decision)s).")
            % {"who": review.decided_by, "decision": review.get_decision_display().lower()}
        )
    return review


def _decided(review: DuplicateReview, decision: str, user: User) -> None:
    review.decision = decision
    review.decided_by = user
    review.decided = timezone.now()
    review.save(update_fields=["decision", "decided_by", "decided"])


@transaction.atomic
def duplicate_merge(*, review_id: int, user: User, reason: str = "") -> Lead:
    """The held lead's client is the existing one: move everything the intake created to
    it and start the lead as that client's (a customer's goes to the account pool).

    The new client's contacts join the existing client's -- one already known there by
    phone or e-mail is replaced by the known one -- and empty legal details are filled
    from it. The new client is kept, marked ``merged_into``, because the audit trail may
    refer to it. One MERGE audit event.
    """
    review = _review_to_decide(review_id=review_id, user=user)
    source, target = review.client, review.candidate
    moved = client_merge(source=source, target=target)
    _decided(review, DuplicateReview.Decision.MERGED, user)
    lead = review.lead
    lead.client = target
    if lead.contact_id in moved:
        lead.contact_id = moved[lead.contact_id]
    lead.save(update_fields=["client", "contact"])
    audit_record(
        action=AuditEvent.Action.MERGE,
        actor=user,
        client_id=target.pk,
        reason=reason.strip(),
        data={
            "review": review.pk,
            "lead": lead.pk,
            "merged_client": source.pk,
            "merged_name": source.name,
            "why_similar": review.reason,
        },
    )
    if lead.process_id is None:
        lead_start(lead=lead)
    return lead


@transaction.atomic
def duplicate_keep_apart(*, review_id: int, user: User, reason: str = "") -> Lead:
    """The held lead's company is not the existing client: it stays a new client and the
    lead starts in the hunters' pool. One SPLIT audit event."""
    review = _review_to_decide(review_id=review_id, user=user)
    _decided(review, DuplicateReview.Decision.KEPT_APART, user)
    audit_record(
        action=AuditEvent.Action.SPLIT,
        actor=user,
        client_id=review.client_id,
        reason=reason.strip(),
        data={
            "review": review.pk,
            "lead": review.lead_id,
            "candidate": review.candidate_id,
            "why_similar": review.reason,
        },
    )
    lead = review.lead
    return lead_start(lead=lead) if lead.process_id is None else lead


# --- lapsed clients come back to the account pool ----------------------------------------


def reactivation_run(*, today: date | None = None, limit: int | None = None) -> list[Lead]:
    """Open a reactivation deal in the account pool for each lapsed client, best buyers
    first, at most ``limit`` (``SALESFLOW_REACTIVATIONS_PER_RUN``) per run; once per client
    per cycle (the ``Reactivation`` row's unique constraint). Safe to run twice or
    concurrently: each client is one transaction under its row lock. Returns the new leads.
    """
    today = today or timezone.localdate()
    limit = settings.SALESFLOW_REACTIVATIONS_PER_RUN if limit is None else limit
    opened: list[Lead] = []
    for lapsed in selectors.lapsed_clients(today=today):
        if len(opened) >= limit:
            break
        lead = _reactivate(lapsed)
        if lead is not None:
            opened.append(lead)
    return opened


@transaction.atomic
def _reactivate(lapsed: LapsedClient) -> Lead | None:
    client = Client.objects.select_for_update().get(pk=lapsed.client_id)
    if Reactivation.objects.filter(client=client, due=lapsed.due).exists():
        return None
    last_lead = client.leads.filter(order__delivered__isnull=False).order_by("-created").first()
    lead = lead_intake(
        client=client,
        source=Lead.Source.REACTIVATION,
        contact=last_lead.contact if last_lead else None,
        request=_(
            "No order since %(last)s; this client reorders about every %(days)d days. "
            "Call them: what do they need now?"
        )
        % {"last": lapsed.last_delivery.isoformat(), "days": lapsed.cycle_days},
        source_detail=_("reorder due %(due)s") % {"due": lapsed.due.isoformat()},
    )
    Reactivation.objects.create(
        client=client,
        due=lapsed.due,
        cycle_days=lapsed.cycle_days,
        last_delivery=lapsed.last_delivery,
        bought_recently=lapsed.bought_recently,
        lead=lead,
    )
    return lead


__all__ = [
    "ClientMatch",
    "IntakeResult",
    "LeadData",
    "duplicate_keep_apart",
    "duplicate_merge",
    "lead_enter",
    "lead_intake",
    "lead_receive",
    "lead_start",
    "reactivation_run",
]
