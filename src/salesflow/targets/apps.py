from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TargetsConfig(AppConfig):
    """Targets per role (Standard and KPI, from the role files), SMART goals, scorecards."""

    name = "salesflow.targets"
    label = "targets"
    verbose_name = _("Targets")
    default_auto_field = "django.db.models.BigAutoField"
