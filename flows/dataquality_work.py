"""The database operator's queue: the rules that find work, and what fixing it writes.

``data_quality_scan`` runs every rule and starts a process of the data-quality flow for
each new problem (one open problem per key: the scan can run again and again):

* probable duplicates -- every undecided ``DuplicateReview`` (the intake holds the lead
  until someone decides; the team leads keep the right to decide it themselves);
* incomplete cards -- the rules the role files declare (``card_rules``): no tax number,
  no decision maker among the contacts, no contact that works;
* contacts that bounced or failed -- the latest call to the contact failed at the
  exchange;
* mail and calls that matched no client (``activities.capture`` stores them with no
  client).

``data_issue_fixed`` is the stage's service: a duplicate decided (``intake.services``),
a card fixed (``clients.services.client_card_fix``: one DATA_FIX audit event, like any
change to a card), the mail put on a client's timeline -- and what was done, in a note.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from salesflow.activities.models import Activity, ExchangeCall
from salesflow.activities.services import activity_match_client
from salesflow.clients.models import Client, Contact, DuplicateReview
from salesflow.clients.services import client_card_fix
from salesflow.conveyor.stage import StageWork
from salesflow.exceptions import StageInvalid
from salesflow.intake.services import duplicate_keep_apart, duplicate_merge
from salesflow.roles import card_rules

from .models import DataIssue

if TYPE_CHECKING:
    from django.contrib.auth.models import User

FLOW = "flows.dataquality.DataQualityFlow"
FAILED_CALL = "failed"
# a card fixed (or explained) this recently is not listed again for what it still lacks
RECHECK_AFTER = timedelta(days=30)
MERGE, KEEP_APART = "merge", "keep_apart"


@cache
def _flow() -> Any:
    return import_string(FLOW)


def _start(
    *,
    kind: str,
    key: str,
    detail: str,
    client: Client | None = None,
    contact: Contact | None = None,
    review: DuplicateReview | None = None,
    activity: Activity | None = None,
) -> DataIssue | None:
    """One problem: its process started (the task waits in the operators' pool) and its
    row; None if it is open already (a concurrent scan found it first)."""
    flow = _flow()
    try:
        with transaction.atomic():
            if client is not None:
                process = flow.start.run(client=client, lead=None)
            else:
                process = flow.start_unmatched.run()
            return DataIssue.objects.create(
                process=process,
                kind=kind,
                key=key,
                detail=detail[:2000],
                client=client,
                contact=contact,
                review=review,
                activity=activity,
            )
    except IntegrityError:
        return None


def _missing(client: Any, rules: tuple[str, ...]) -> list[str]:
    labels = {
        "tax_number": _("no tax number"),
        "decision_maker": _("no decision maker"),
        "working_contact": _("no contact that works"),
    }
    missing = []
    if "tax_number" in rules and not client.tax_number.strip():
        missing.append(labels["tax_number"])
    if "decision_maker" in rules and not client.has_decision_maker:
        missing.append(labels["decision_maker"])
    if "working_contact" in rules and not client.has_working_contact:
        missing.append(labels["working_contact"])
    return missing


def _latest_failed() -> Any:
    """Calls that failed at the exchange and are their contact's latest call."""
    later = ExchangeCall.objects.filter(
        activity__contact_id=OuterRef("activity__contact_id"),
        activity__occurred__gt=OuterRef("activity__occurred"),
    )
    return ExchangeCall.objects.filter(status=FAILED_CALL).filter(~Exists(later))


def data_quality_scan(*, limit: int = 500) -> dict[str, int]:
    """Every rule, once: a task in the operators' pool for each new problem (at most
    ``limit`` per rule per run, oldest first); how many each rule started."""
    started = {kind: 0 for kind in DataIssue.Kind.values}

    # probable duplicates nobody has decided
    reviews = (
        DuplicateReview.objects.filter(decided__isnull=True)
        .exclude(pk__in=DataIssue.objects.filter(review__isnull=False).values("review_id"))
        .select_related("client", "candidate")
        .order_by("created", "pk")[:limit]
    )
    for review in reviews:
        if _start(
            kind=DataIssue.Kind.DUPLICATE,
            key=f"duplicate:{review.pk}",
            detail=_("%(new)s may be %(known)s: %(why)s")
            % {"new": review.client, "known": review.candidate, "why": review.reason},
            client=review.client,
            review=review,
        ):
            started[DataIssue.Kind.DUPLICATE] += 1

    # incomplete cards, by the role files' rules
    rules = card_rules()
    if rules:
        unreachable = Exists(_latest_failed().filter(activity__contact_id=OuterRef("pk")))
        working = (
            Contact.objects.filter(client_id=OuterRef("pk"))
            .filter(~Q(phone="") | ~Q(email=""))
            .annotate(failed=unreachable)
            .filter(failed=False)
        )
        wanted = Q()
        if "tax_number" in rules:
            wanted |= Q(tax_number="")
        if "decision_maker" in rules:
            wanted |= Q(has_decision_maker=False)
        if "working_contact" in rules:
            wanted |= Q(has_working_contact=False)
        recent = DataIssue.objects.filter(
            kind=DataIssue.Kind.INCOMPLETE, client_id=OuterRef("pk")
        ).filter(Q(status=DataIssue.Status.OPEN) | Q(fixed__gte=timezone.now() - RECHECK_AFTER))
        clients = (
            Client.objects.filter(merged_into__isnull=True)
            .annotate(
                has_decision_maker=Exists(
                    Contact.objects.filter(client_id=OuterRef("pk"), is_decision_maker=True)
                ),
                has_working_contact=Exists(working),
                listed=Exists(recent),
            )
            .filter(wanted, listed=False)
            .order_by("created", "pk")[:limit]
        )
        for client in clients:
            missing = _missing(client, rules)
            if missing and _start(
                kind=DataIssue.Kind.INCOMPLETE,
                key=f"incomplete:{client.pk}",
                detail=_("The card has %(missing)s.") % {"missing": ", ".join(missing)},
                client=client,
            ):
                started[DataIssue.Kind.INCOMPLETE] += 1

    # contacts whose latest call failed (each failed call once)
    calls = (
        _latest_failed()
        .filter(activity__contact__isnull=False, activity__client__isnull=False)
        .select_related("activity__contact", "activity__client")
        .order_by("received", "pk")[:limit]
    )
    for call in calls:
        contact = call.activity.contact
        assert contact is not None
        key = f"unreachable:{contact.pk}:{call.pk}"
        if DataIssue.objects.filter(key=key).exists():
            continue
        if _start(
            kind=DataIssue.Kind.UNREACHABLE,
            key=key,
            detail=_("The call to %(contact)s failed (%(when)s).")
            % {"contact": contact.name, "when": call.activity.occurred.date().isoformat()},
            client=call.activity.client,
            contact=contact,
        ):
            started[DataIssue.Kind.UNREACHABLE] += 1

    # mail and calls that matched no client
    unmatched = (
        Activity.objects.filter(client__isnull=True)
        .exclude(pk__in=DataIssue.objects.filter(activity__isnull=False).values("activity_id"))
        .order_by("occurred", "pk")[:limit]
    )
    for activity in unmatched:
        if _start(
            kind=DataIssue.Kind.UNMATCHED,
            key=f"unmatched:{activity.pk}",
            detail=_("%(kind)s of %(when)s: %(subject)s")
            % {
                "kind": activity.get_kind_display(),
                "when": activity.occurred.date().isoformat(),
                "subject": activity.subject or "-",
            },
            activity=activity,
        ):
            started[DataIssue.Kind.UNMATCHED] += 1
    return started


def issue_of(process_id: int) -> DataIssue | None:
    return (
        DataIssue.objects.filter(process_id=process_id)
        .select_related("client", "contact", "review", "activity")
        .first()
    )


def data_issue_fixed(*, work: StageWork, data: dict[str, Any]) -> None:
    """The fix stage completed (inside ``stage_complete``, its process locked): what the
    form says is done, through the engine's services, and the note kept."""
    issue = (
        DataIssue.objects.select_for_update(of=("self",))
        .filter(process_id=work.task.process_id)
        .first()
    )
    if issue is None:
        raise StageInvalid(_("This data-quality task's problem is gone."))
    note = str(data["note"]).strip()
    user: User = work.user
    if issue.kind == DataIssue.Kind.DUPLICATE and issue.review_id is not None:
        decision = data.get("decision") or ""
        review = DuplicateReview.objects.get(pk=issue.review_id)
        if review.decided is None:
            if decision == MERGE:
                duplicate_merge(review_id=review.pk, user=user, reason=note)
            elif decision == KEEP_APART:
                duplicate_keep_apart(review_id=review.pk, user=user, reason=note)
            else:
                raise StageInvalid(
                    _("Decide: merge into the known client, or keep it apart."),
                    errors={"decision": [_("Required for a probable duplicate.")]},
                )
    elif issue.kind == DataIssue.Kind.UNMATCHED and issue.activity_id is not None:
        client_id = data.get("match_client")
        if client_id:
            client = Client.objects.filter(pk=client_id).first()
            if client is None:
                raise StageInvalid(
                    _("No client #%(id)s.") % {"id": client_id},
                    errors={"match_client": [_("No such client.")]},
                )
            activity_match_client(activity_id=issue.activity_id, client=client, by=user)
    elif issue.client_id is not None:
        changes = {"tax_number": data["tax_number"]} if data.get("tax_number") else {}
        decision_maker = data.get("decision_maker") or None
        client_card_fix(
            client_id=issue.client_id,
            user=user,
            changes=changes,
            decision_maker_id=int(decision_maker) if decision_maker else None,
            task=work.task,
            reason=note,
        )
    issue.status = DataIssue.Status.FIXED
    issue.note = note
    issue.fixed = timezone.now()
    issue.fixed_by = user
    issue.save(update_fields=["status", "note", "fixed", "fixed_by"])
