"""``{% leak_watch %}``: the leak early warnings on the team console (a partial of its own,
so the console's view and template need only this one line)."""

from __future__ import annotations

from typing import Any

from django import template

from salesflow.people import display_names

from ..selectors import console_alerts

register = template.Library()


@register.inclusion_tag("salesflow/watch/_alerts.html", takes_context=True)
def leak_watch(context: Any) -> dict[str, Any]:
    people = console_alerts()
    users = [p.user for p in people] + [
        a.cleared_by for p in people for a in p.alerts if a.cleared_by is not None
    ]
    names = display_names(users)  # type: ignore[arg-type]
    return {
        "people": [
            (
                person,
                names.get(person.user_id, ""),
                [(alert, names.get(alert.cleared_by_id or 0, "")) for alert in person.alerts],
            )
            for person in people
        ],
        "request": context.get("request"),
        "csrf_token": context.get("csrf_token"),
    }
