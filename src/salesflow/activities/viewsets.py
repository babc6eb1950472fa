"""The company's memory as an application of the site: a client's timeline (opened from
the client's card and the stage page), its e-mail, and the team leads' two lists in the
menu -- mail and calls that matched no client, deals without a next step."""

from typing import Any

from django.urls import path
from django.utils.translation import gettext_lazy as _
from viewflow.urls import Application

from . import views


class ActivitiesApp(Application):
    app_name = "activities"
    title = _("Company memory")
    icon = "history"
    menu_template_name = "salesflow/activities/menu.html"

    index_path = path("", views.index, name="index")
    timeline_path = path("clients/<int:client_id>/", views.timeline_page, name="timeline")
    mail_path = path("mail/<int:mail_id>/", views.mail_page, name="mail")
    attachment_path = path(
        "mail/<int:mail_id>/files/<int:attachment_id>/",
        views.attachment_download,
        name="attachment",
    )
    task_log_path = path("tasks/<int:task_id>/log/", views.task_log, name="task_log")
    task_send_path = path("tasks/<int:task_id>/send/", views.task_send, name="task_send")
    triage_path = path("triage/", views.triage_page, name="triage")
    match_path = path("triage/<int:activity_id>/match/", views.triage_match, name="match")
    quiet_path = path("without-next-step/", views.quiet_deals_page, name="quiet")

    def has_view_permission(self, user: Any, obj: Any = None) -> bool:
        """Everybody signed in reads timelines (masked as the client's rules say; viewflow
        also checks this for every page of the application); the lists are the team
        leads' (their views check; the menu shows them to those who manage the queues)."""
        return bool(user.is_authenticated)
