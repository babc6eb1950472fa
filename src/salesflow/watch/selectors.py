"""Reading the leak watch: what the team console shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.db.models import Q
from django.utils import timezone

from .models import LeakAlert


@dataclass
class PersonAlerts:
    """One person's alerts for the console: suspended or not, and why."""

    user_id: int
    user: object
    alerts: list[LeakAlert] = field(default_factory=list)

    @property
    def suspended(self) -> bool:
        return any(a.suspends and a.cleared is None for a in self.alerts)


def console_alerts(*, today: date | None = None) -> list[PersonAlerts]:
    """Every uncleared alert, and today's cleared ones, grouped by person; the suspended
    first. Two queries at most, none per row."""
    today = today or timezone.localdate()
    alerts = (
        LeakAlert.objects.filter(Q(cleared__isnull=True) | Q(day=today))
        .select_related("user", "cleared_by")
        .order_by("user_id", "created", "pk")
    )
    people: dict[int, PersonAlerts] = {}
    for alert in alerts:
        person = people.setdefault(alert.user_id, PersonAlerts(alert.user_id, alert.user))
        person.alerts.append(alert)
    return sorted(people.values(), key=lambda p: (not p.suspended, p.user_id))
