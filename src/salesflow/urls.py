"""URLs: viewflow's Material site with one application per configured flow, sign-in,
the admin, and language switching."""

from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog, set_language
from viewflow.urls import Site

from .activities.viewsets import ActivitiesApp
from .conveyor.registry import flows
from .conveyor.viewsets import ConveyorAppViewset
from .intake.viewsets import ClientsApp
from .pay.views import PayApplication
from .queues.viewsets import WorkApp
from .reports.views import ReportsApplication
from .signin import SigninViewset
from .targets.views import TargetsApplication
from .views import health

site = Site(
    title="salesflow",
    viewsets=[
        WorkApp(),
        *(ConveyorAppViewset(flow_class, icon="conveyor_belt") for flow_class in flows()),
        ClientsApp(),
        ActivitiesApp(),
        PayApplication(),
        ReportsApplication(),
        TargetsApplication(),
    ],
)

urlpatterns = [
    path("health/", health, name="health"),
    path("accounts/", SigninViewset(with_profile_view=False).urls),
    path("admin/", admin.site.urls),
    # the language switch, for anyone (the sign-in page and the public web form too)
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    # the strings of viewflow's scripts ("3 of 10 selected", month names), in the page's
    # language: viewflow's base template loads this URL by its name
    path(
        "jsi18n/",
        login_not_required(
            JavaScriptCatalog.as_view(packages=["django.contrib.admin", "salesflow"])
        ),
        name="javascript-catalog",
    ),
    path("leads/", include("salesflow.intake.urls")),  # the public web form
    path("api/", include("salesflow.api.urls")),
    path("", site.urls),
]

handler500 = "salesflow.views.server_error"  # a 503 "try again" while the database is away
