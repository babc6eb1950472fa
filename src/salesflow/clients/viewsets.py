"""The client base as an application of the product's site (its menu, its URLs)."""

from django.urls import path
from django.utils.translation import gettext_lazy as _
from viewflow.urls import Application

from . import views


class ClientsApp(Application):
    title = _("Clients")
    icon = "business"
    app_name = "clients"
    menu_template_name = "salesflow/clients/menu.html"

    index_path = path("", views.client_list, name="index")
    detail_path = path("<int:client_id>/", views.client_detail, name="detail")
    reveal_path = path(
        "<int:client_id>/contacts/<int:contact_id>/reveal/", views.contact_reveal, name="reveal"
    )
    export_path = path("export/", views.client_export, name="export")
    lead_new_path = path("leads/new/", views.lead_new, name="lead_new")
    duplicates_path = path("duplicates/", views.duplicate_list, name="duplicates")
    decide_path = path("duplicates/<int:review_id>/decide/", views.duplicate_decide, name="decide")
