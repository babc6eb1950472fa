from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ActivitiesConfig(AppConfig):
    """The company's memory: calls, meetings, e-mail and notes on one client timeline, and
    the next steps they promise turned into reminders."""

    name = "salesflow.activities"
    label = "activities"
    verbose_name = _("Activities")
    default_auto_field = "django.db.models.BigAutoField"
