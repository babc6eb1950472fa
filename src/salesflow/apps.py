"""The engine's core app: roles and the engine's own permissions."""

from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class SalesflowConfig(AppConfig):
    name = "salesflow"
    verbose_name = _("Sales conveyor")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .roles import RoleFileError, get_roles

        # A bad role file stops every command and the web server here, with the file,
        # the key and the reason -- never a half-understood role at run time.
        try:
            get_roles()
        except RoleFileError as exc:
            raise ImproperlyConfigured(f"Bad role file: {exc}") from None

        from .services import after_migrate

        post_migrate.connect(after_migrate, dispatch_uid="salesflow-after-migrate")
