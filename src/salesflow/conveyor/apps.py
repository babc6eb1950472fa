from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConveyorConfig(AppConfig):
    """viewflow glue: the Stage node, the stage pages and the services behind them."""

    name = "salesflow.conveyor"
    label = "conveyor"
    verbose_name = _("Conveyor")

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the system checks
