"""The client base as an application of the product's site (its menu, its URLs): the
client base's own pages and the intake's pages for entering leads and deciding probable
duplicates, in one menu entry (composed here, above both)."""

from django.urls import path
from django.utils.translation import gettext_lazy as _
from viewflow.urls import Application

from salesflow.clients import views as clients

from . import views


class ClientsApp(Application):
    title = _("Clients")
    icon = "business"
    app_name = "clients"
    menu_template_name = "salesflow/clients/menu.html"

    index_path = path("", clients.client_list, name="index")
    detail_path = path("<int:client_id>/", clients.client_detail, name="detail")
    reveal_path = path(
        "<int:client_id>/contacts/<int:contact_id>/reveal/", clients.contact_reveal, name="reveal"
    )
    export_path = path("export/", clients.client_export, name="export")
    lead_new_path = path("leads/new/", views.lead_new, name="lead_new")
    duplicates_path = path("duplicates/", views.duplicate_list, name="duplicates")
    decide_path = path("duplicates/<int:review_id>/decide/", views.duplicate_decide, name="decide")
