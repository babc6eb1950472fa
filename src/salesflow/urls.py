"""URLs: viewflow's Material site with one application per configured flow, sign-in,
the admin, and language switching."""

from django.contrib import admin
from django.urls import include, path
from viewflow.urls import Site

from .activities.viewsets import ActivitiesApp
from .conveyor.registry import flows
from .conveyor.viewsets import ConveyorAppViewset
from .intake.viewsets import ClientsApp
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
        ReportsApplication(),
        TargetsApplication(),
    ],
)

urlpatterns = [
    path("health/", health, name="health"),
    path("accounts/", SigninViewset(with_profile_view=False).urls),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("leads/", include("salesflow.intake.urls")),  # the public web form
    path("api/", include("salesflow.api.urls")),
    path("", site.urls),
]

handler500 = "salesflow.views.server_error"  # a 503 "try again" while the database is away
