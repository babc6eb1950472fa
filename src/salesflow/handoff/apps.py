from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HandoffConfig(AppConfig):
    name = "salesflow.handoff"
    label = "handoff"
    verbose_name = _("Handoff notes")
    default_auto_field = "django.db.models.BigAutoField"
