"""SMART goals: set by a team lead for a person, ticked done by a team lead when the engine
cannot measure them. Each service checks the permission itself, refuses bad input with the
reason, and writes nothing then."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from salesflow.exceptions import SalesflowError

from .access import require_team_lead
from .measures import MEASURES
from .models import Goal


class GoalInvalid(SalesflowError):
    """A goal that cannot be set as asked."""


def goal_set(
    *,
    lead: Any,
    person: Any,
    what: str,
    measure: str,
    target: Decimal | str | int,
    deadline: Any,
) -> Goal:
    """Set a SMART goal for ``person``, running from today to ``deadline``. NotPermitted
    for anyone but a team lead; GoalInvalid for an empty ``what``, an unknown measure, a
    negative target or a deadline in the past."""
    require_team_lead(lead)
    errors: dict[str, list[str]] = {}
    what = (what or "").strip()
    if not what:
        errors["what"] = [_("Say what the goal is.")]
    if measure and measure not in MEASURES:
        errors["measure"] = [
            _("Unknown measure %(measure)r (known: %(known)s).")
            % {"measure": measure, "known": ", ".join(sorted(MEASURES))}
        ]
    try:
        value = Decimal(str(target))
        if not value.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        errors["target"] = [_("The target must be a number.")]
        value = Decimal(0)
    else:
        if value < 0:
            errors["target"] = [_("The target must not be negative.")]
    today = timezone.localdate()
    if deadline is None:
        errors["deadline"] = [_("A goal needs a deadline.")]
    elif deadline < today:
        errors["deadline"] = [
            _("The deadline %(deadline)s is in the past (today is %(today)s).")
            % {"deadline": deadline.isoformat(), "today": today.isoformat()}
        ]
    if not person.is_active:
        errors["person"] = [_("%(person)s is deactivated.") % {"person": person}]
    if errors:
        raise GoalInvalid(
            " ".join(message for messages in errors.values() for message in messages),
            errors=errors,
        )
    with transaction.atomic():
        return Goal.objects.create(
            person=person,
            set_by=lead,
            what=what,
            measure=measure or "",
            target=value,
            starts=today,
            deadline=deadline,
        )


def goal_tick(*, lead: Any, goal_id: int) -> Goal:
    """Tick a goal without a measure done. NotPermitted for anyone but a team lead;
    GoalInvalid for a measured goal (its progress is computed) or one already ticked."""
    require_team_lead(lead)
    with transaction.atomic():
        goal = Goal.objects.select_for_update().filter(pk=goal_id).first()
        if goal is None:
            raise GoalInvalid(_("There is no goal %(id)s.") % {"id": goal_id})
        if goal.measure:
            raise GoalInvalid(_("This goal is measured by the engine; it cannot be ticked."))
        if goal.done is not None:
            raise GoalInvalid(_("This goal is already ticked done."))
        goal.done = timezone.now()
        goal.done_by = lead
        goal.save(update_fields=["done", "done_by"])
    return goal
