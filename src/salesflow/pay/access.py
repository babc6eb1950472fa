"""Who sees and does what with pay -- one place for the pages, the API and the CLI.

A person reads their own statement; a team lead (``salesflow.manage_queues``) the team's,
which in this installation is everyone the conveyor carries; an admin everything, and
only an admin closes a period or adjusts pay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from salesflow.exceptions import NotPermitted
from salesflow.roles import can_manage_queues

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


def may_read_team(user: User | AnonymousUser) -> bool:
    """The team statement and the payroll exports: team leads and admins."""
    return bool(user.is_authenticated and user.is_active) and (
        bool(user.is_superuser) or can_manage_queues(user)
    )


def may_close(user: User | AnonymousUser) -> bool:
    """Closing a period, adjusting pay: admins."""
    return bool(user.is_authenticated and user.is_active and user.is_superuser)


def may_decide_disputes(user: User | AnonymousUser) -> bool:
    """Deciding pay disputes: team leads and admins (never their own: ``pay.disputes``)."""
    return may_read_team(user)


def access_statement(*, viewer: User | AnonymousUser, person_id: int) -> None:
    """May ``viewer`` read ``person_id``'s statement? NotPermitted if not."""
    if not (viewer.is_authenticated and viewer.is_active):
        raise NotPermitted(_("Sign in to see pay statements."))
    if viewer.pk == person_id or may_read_team(viewer):
        return
    raise NotPermitted(_("You may see only your own statement."))


def access_team(viewer: User | AnonymousUser) -> None:
    if not may_read_team(viewer):
        raise NotPermitted(_("Only team leads and admins see the team's statement."))


def access_close(viewer: User | AnonymousUser) -> None:
    if not may_close(viewer):
        raise NotPermitted(_("Only an admin closes a pay period or adjusts pay."))


def access_decide(viewer: User | AnonymousUser) -> None:
    if not may_decide_disputes(viewer):
        raise NotPermitted(_("Only team leads and admins decide pay disputes."))
