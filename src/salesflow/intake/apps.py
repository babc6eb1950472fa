from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntakeConfig(AppConfig):
    """How leads come in and deals start: every channel, duplicates decided, lapsed
    customers called back (no models of its own: it writes the client base's)."""

    name = "salesflow.intake"
    label = "intake"
    verbose_name = _("Intake")
