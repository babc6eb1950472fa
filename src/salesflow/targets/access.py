"""Who reads which scorecard, and who sets goals: one helper per question, for the pages,
the API and the command line alike.

A person reads their own scorecard; a team lead (``salesflow.manage_queues``, admins too)
reads everyone's, the team grid and the dependence list, and sets and ticks goals.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _

from salesflow.exceptions import NotPermitted
from salesflow.roles import can_manage_queues

from .periods import Period
from .selectors import Scorecard, scorecard, team_grid


def is_team_lead(user: Any) -> bool:
    return bool(user.is_authenticated and (can_manage_queues(user) or user.is_superuser))


def access_person(*, viewer: Any, person_id: int | None) -> Any:
    """The person whose scorecard ``viewer`` asks for (None: their own). NotPermitted for
    anyone else's unless the viewer is a team lead -- and for a person who does not exist,
    said the same way, so the refusal tells nothing about who exists."""
    if not viewer.is_authenticated or not viewer.is_active:
        raise NotPermitted(_("Sign in to see a scorecard."))
    if person_id is None or person_id == viewer.pk:
        return viewer
    refusal = NotPermitted(_("You may see only your own scorecard; team leads see the team's."))
    if not is_team_lead(viewer):
        raise refusal
    person = get_user_model()._default_manager.filter(pk=person_id).first()
    if person is None:
        raise refusal
    return person


def access_scorecard(*, viewer: Any, person_id: int | None, period: Period) -> Scorecard:
    person = access_person(viewer=viewer, person_id=person_id)
    return scorecard(person=person, period=period)


def require_team_lead(viewer: Any) -> None:
    if not is_team_lead(viewer):
        raise NotPermitted(_("This is for team leads."))


def access_team_grid(*, viewer: Any, period: Period) -> list[Scorecard]:
    require_team_lead(viewer)
    return team_grid(period=period)
