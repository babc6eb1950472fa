from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FlowsConfig(AppConfig):
    name = "flows"
    label = "flows"
    verbose_name = _("Conveyors")
    default_auto_field = "django.db.models.BigAutoField"
