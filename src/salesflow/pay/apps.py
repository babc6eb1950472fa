from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PayConfig(AppConfig):
    """Pay from the trail: plans, credit, statements, closed periods."""

    name = "salesflow.pay"
    label = "pay"
    verbose_name = _("Pay")
    default_auto_field = "django.db.models.BigAutoField"
