from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    """The daily queue report: one stored snapshot per day, its page, exports and e-mail."""

    name = "salesflow.reports"
    label = "reports"
    verbose_name = _("Reports")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from . import checks  # noqa: F401 - registers the system checks
        from .queries import register_sqlite_functions

        connection_created.connect(
            register_sqlite_functions, dispatch_uid="salesflow-reports-sqlite-functions"
        )
