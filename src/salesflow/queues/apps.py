from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class QueuesConfig(AppConfig):
    """Pools of work per role: what is due when, who takes what, what is stuck."""

    name = "salesflow.queues"
    label = "queues"
    verbose_name = _("Queues")
    default_auto_field = "django.db.models.BigAutoField"
