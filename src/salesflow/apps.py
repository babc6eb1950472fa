"""The engine's core app: roles and the engine's own permissions; and how its static
files are collected."""

from django.apps import AppConfig
from django.contrib.staticfiles.apps import StaticFilesConfig as BaseStaticFilesConfig
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


class StaticFilesConfig(BaseStaticFilesConfig):
    """``collectstatic`` without the ``node_modules`` folders viewflow ships inside its
    static files: they are build leftovers no page loads, and one of them (a second copy
    of the Roboto stylesheet, its fonts missing beside it) makes the production storage's
    post-processing -- hashed names for every ``url()`` in every CSS file -- fail."""

    ignore_patterns = [*BaseStaticFilesConfig.ignore_patterns, "node_modules"]
