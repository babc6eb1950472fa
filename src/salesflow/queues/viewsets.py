"""The "Work" application of the site menu: a pool and an inbox per role the person
holds, and the team console for those who manage the queues."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from viewflow.urls import Application

from salesflow.roles import can_manage_queues, roles_of
from salesflow.watch import views as watch

from . import views


class WorkApp(Application):
    app_name = "work"
    title = _("Work")
    icon = "inbox"
    menu_template_name = "salesflow/queues/menu.html"

    index_path = path("", views.WorkIndexView.as_view(), name="index")
    console_path = path("console/", views.ConsoleView.as_view(), name="console")
    reassign_path = path("console/reassign/", views.ReassignView.as_view(), name="reassign")
    offboard_path = path("console/offboard/", views.OffboardView.as_view(), name="offboard")
    suspension_clear_path = path(
        "console/suspensions/<int:user_id>/clear/", watch.suspension_clear, name="suspension_clear"
    )
    pool_path = path("pools/<slug:role>/", views.RoleTaskListView.as_view(tab="pool"), name="pool")
    mine_path = path(
        "pools/<slug:role>/mine/", views.RoleTaskListView.as_view(tab="mine"), name="mine"
    )
    claim_next_path = path(
        "pools/<slug:role>/claim-next/", views.ClaimNextView.as_view(), name="claim_next"
    )

    def has_view_permission(self, user: Any, obj: Any = None) -> bool:
        return user.is_authenticated and (bool(roles_of(user)) or can_manage_queues(user))

    def get_context_data(self, request: HttpRequest) -> dict[str, Any]:
        return work_menu(request)


def work_menu(request: HttpRequest) -> dict[str, Any]:
    """The Work menu: the pools of the roles the person holds, and the console (also the
    sidebar of a stage's pages: one way to work, one vocabulary)."""
    links = [
        (role.title_for(request.LANGUAGE_CODE), reverse("work:pool", args=[role.code]))
        for role in roles_of(request.user)
    ]
    return {
        "work_pools": links,
        "work_console": reverse("work:console") if can_manage_queues(request.user) else None,
    }
