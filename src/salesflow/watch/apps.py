from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WatchConfig(AppConfig):
    name = "salesflow.watch"
    label = "watch"
    verbose_name = _("Leak watch")
    default_auto_field = "django.db.models.BigAutoField"
