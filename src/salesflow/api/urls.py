"""``/api/...``: the resources, and the OpenAPI schema at ``/api/schema/``."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny
from rest_framework.routers import SimpleRouter

from . import activities, pay, views

router = SimpleRouter()
router.register("leads", views.LeadViewSet, basename="lead")
router.register("tasks", views.TaskViewSet, basename="task")
router.register("clients", views.ClientViewSet, basename="client")
router.register("contacts", views.ContactViewSet, basename="contact")
router.register("reports/daily", views.ReportViewSet, basename="report")
router.register("scorecards", views.ScorecardViewSet, basename="scorecard")

urlpatterns = [
    # the schema describes the API, holds no data: readable without signing in
    path("schema/", SpectacularAPIView.as_view(permission_classes=[AllowAny]), name="schema"),
    # the company's memory (salesflow.activities)
    path("clients/<str:pk>/timeline/", activities.TimelineView.as_view(), name="client-timeline"),
    path("calls/", activities.CallView.as_view(), name="calls"),
    # pay (salesflow.pay)
    path("pay/<str:period>/me/", pay.MyStatementView.as_view(), name="pay-mine"),
    path(
        "pay/<str:period>/people/<int:user_id>/",
        pay.PersonStatementView.as_view(),
        name="pay-person",
    ),
    path("pay/<str:period>/team/", pay.TeamStatementView.as_view(), name="pay-team"),
    path("pay/<str:period>/close/", pay.CloseView.as_view(), name="pay-close"),
    path("pay/<str:period>/disputes/", pay.DisputesView.as_view(), name="pay-disputes"),
    path("reports/funnel/", views.funnel_view, name="funnel"),
    *router.urls,
    # any other path under /api/, a newline in it too ("." stops at one): the API's 404
    re_path(r"^(?P<path>[\s\S]*)$", views.not_found),
]
