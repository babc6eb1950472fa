"""Counting what could be a leak, alerting the team leads, suspending and clearing reveals.

The services that reveal a contact, give a task back or export the base call
``leak_check`` right after writing their audit event, in the same transaction: the day's
count is read from the audit trail (the ``actor, created`` index), so there is no second
counter to drift from it. ``reveals_allowed`` is asked before a reveal.
"""

from __future__ import annotations

import logging
from datetime import datetime, time
from functools import partial
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from salesflow.audit.models import AuditEvent
from salesflow.audit.services import audit_record
from salesflow.celery import publish
from salesflow.exceptions import ClaimConflict, NotFound, NotPermitted, SalesflowError
from salesflow.people import display_name
from salesflow.roles import can_manage_queues, leak_limits_for, team_lead_addresses

from .models import LeakAlert

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

REVEALS, UNASSIGNS, EXPORTS = (
    LeakAlert.Kind.REVEALS,
    LeakAlert.Kind.UNASSIGNS,
    LeakAlert.Kind.EXPORTS,
)
NOTIFY_JOB = "salesflow.watch.tasks.notify_leak"


def _day_start(now: datetime) -> datetime:
    return timezone.make_aware(datetime.combine(timezone.localdate(now), time.min))


def day_count(*, user: User, kind: str, now: datetime | None = None) -> int:
    """How many reveals, own tasks given back, or exports ``user`` made today (local day),
    from the audit trail."""
    events = AuditEvent.objects.filter(actor=user, created__gte=_day_start(now or timezone.now()))
    if kind == REVEALS:
        return events.filter(action=AuditEvent.Action.REVEAL).count()
    if kind == UNASSIGNS:
        return events.filter(action=AuditEvent.Action.UNASSIGN, from_user=user).count()
    return events.filter(action=AuditEvent.Action.EXPORT).count()


def open_suspension(*, user: User) -> LeakAlert | None:
    """The oldest uncleared alert that suspends the user's reveals, if any."""
    return (
        LeakAlert.objects.filter(user=user, suspends=True, cleared__isnull=True)
        .order_by("created", "pk")
        .first()
    )


def reveals_allowed(*, user: User) -> None:
    """Refuse (NotPermitted, nothing written) while the leak watch suspends the user's
    reveals."""
    alert = open_suspension(user=user)
    if alert is not None:
        raise NotPermitted(
            _(
                "Your reveals are suspended since %(when)s: %(count)d %(what)s today, over "
                "your limit of %(limit)d. A team lead can clear it in the team console."
            )
            % {
                "when": date_format(timezone.localtime(alert.created), "SHORT_DATETIME_FORMAT"),
                "count": alert.count,
                "what": alert.get_kind_display(),
                "limit": alert.limit,
            }
        )


def leak_check(*, user: User, kind: str) -> LeakAlert | None:
    """Call right after recording one reveal / own give-back / export, inside its
    transaction. Over the user's daily limit (``roles.leak_limits_for``) -- and again at
    each further multiple of it (twice, three times the limit) -- raise one alert: a
    LEAK_WARNING audit event, a suspension of reveals if the user's roles ask for it, and
    an e-mail to the team leads after the commit. Returns the new alert, if any."""
    now = timezone.now()
    limit = getattr(leak_limits_for(user), str(kind))
    count = day_count(user=user, kind=kind, now=now)
    if count <= limit:
        return None
    day = timezone.localdate(now)
    level = (count - 1) // limit  # how many limits the day has passed: 1, 2, ...
    if LeakAlert.objects.filter(user=user, day=day, kind=kind, level__gte=level).exists():
        return None
    suspends = leak_limits_for(user).suspend_reveals
    try:
        with transaction.atomic():
            alert = LeakAlert.objects.create(
                user=user,
                day=day,
                kind=kind,
                level=level,
                count=count,
                limit=limit,
                suspends=suspends,
                created=now,
            )
    except IntegrityError:
        return None  # a concurrent request raised this crossing's alert
    audit_record(
        action=AuditEvent.Action.LEAK_WARNING,
        actor=None,
        from_user=user,
        reason=_("%(count)d %(what)s today, over the limit of %(limit)d")
        % {"count": count, "what": alert.get_kind_display(), "limit": limit},
        data={"alert": alert.pk, "kind": str(kind), "count": count, "limit": limit,
              "suspends": suspends},
    )  # fmt: skip
    transaction.on_commit(partial(_enqueue_notify, alert.pk))
    return alert


def _enqueue_notify(alert_id: int) -> None:
    if not publish(NOTIFY_JOB, alert_id):
        logger.error(
            "leak early warning %s raised, but the broker is unavailable: the team leads "
            "are not e-mailed (the team console shows it)",
            alert_id,
        )


def leak_notify(*, alert_id: int) -> int:
    """E-mail the team leads (not the person concerned) about one alert: who, what, how
    many -- never which contacts. Returns the number of recipients."""
    alert = LeakAlert.objects.select_related("user").filter(pk=alert_id).first()
    if alert is None:
        return 0
    recipients = [a for a in team_lead_addresses() if a != alert.user.email]
    if not recipients:
        logger.warning("leak early warning %s: no team lead has an e-mail address", alert_id)
        return 0
    who = display_name(alert.user)
    subject = _("salesflow: leak early warning for %(who)s") % {"who": who}
    lines = [
        _("%(who)s: %(count)d %(what)s on %(day)s, over the daily limit of %(limit)d.")
        % {
            "who": who,
            "count": alert.count,
            "what": alert.get_kind_display(),
            "day": date_format(alert.day, "SHORT_DATE_FORMAT"),
            "limit": alert.limit,
        },
        "",
        _(
            "Their reveals of contacts are suspended until a team lead clears them in the "
            "team console."
        )
        if alert.suspends
        else _("Their reveals are not suspended (their role does not ask for it)."),
        _("The audit trail has every reveal, give-back and export with its reason."),
    ]
    send_mail(subject, "\n".join(lines), settings.DEFAULT_FROM_EMAIL, recipients)
    return len(recipients)


@transaction.atomic
def suspension_clear(*, user: User, by: User, reason: str) -> list[LeakAlert]:
    """A team lead clears a person's suspended reveals (every open alert of theirs), with
    a reason; one LEAK_CLEARED audit event. Refuses, writing nothing: someone who does not
    manage the queues, their own suspension, no reason, nothing to clear."""
    if not can_manage_queues(by):
        raise NotPermitted(_("Only a team lead can clear a suspension of reveals."))
    if by.pk == user.pk:
        raise NotPermitted(_("A colleague must clear your own suspension, not you."))
    reason = (reason or "").strip()
    if not reason:
        raise SalesflowError(
            _("Say why the suspension is cleared: it stays in the audit trail."),
            errors={"reason": [_("A reason is required.")]},
        )
    alerts = list(
        LeakAlert.objects.select_for_update()
        .filter(user=user, cleared__isnull=True)
        .order_by("created", "pk")
    )
    if not alerts:
        raise ClaimConflict(_("%(who)s has no suspension to clear.") % {"who": display_name(user)})
    now = timezone.now()
    for alert in alerts:
        alert.cleared, alert.cleared_by, alert.cleared_reason = now, by, reason
        alert.save(update_fields=["cleared", "cleared_by", "cleared_reason"])
    audit_record(
        action=AuditEvent.Action.LEAK_CLEARED,
        actor=by,
        from_user=user,
        reason=reason,
        data={"alerts": [alert.pk for alert in alerts]},
    )
    return alerts


def alerted_person(*, user_id: int) -> User:
    """The person a clear is about (NotFound otherwise)."""
    person: User | None = get_user_model()._default_manager.filter(pk=user_id).first()
    if person is None:
        raise NotFound(_("Person #%(id)s does not exist.") % {"id": user_id})
    return person
