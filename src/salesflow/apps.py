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
        # The composition root: the roles are checked against the flows and the pools'
        # columns, which sit above them (they are imported here, once every app is ready).
        from .conveyor.registry import node_permissions
        from .models import ENGINE_PERMISSIONS
        from .pay.plans import PayPlanError, check_plans, get_plans
        from .queues.columns import COLUMNS
        from .roles import RoleFileError, check_roles, get_roles
        from .services import after_migrate
        from .targets.measures import MEASURES

        # A bad role file stops every command and the web server here, with the file,
        # the key and the reason -- never a half-understood role at run time.
        try:
            check_roles(
                get_roles(),
                nodes=node_permissions(),
                engine_permissions=ENGINE_PERMISSIONS,
                columns=COLUMNS,
                measures=MEASURES,
            )
        except RoleFileError as exc:
            raise ImproperlyConfigured(f"Bad role file: {exc}") from None
        # The pay plans likewise: a split that is not 100 %, a rate below zero, a stage
        # no flow has or two plans in force on one day stop the start with file and key.
        try:
            check_plans(get_plans(), nodes=node_permissions(), roles=get_roles())
        except PayPlanError as exc:
            raise ImproperlyConfigured(f"Bad pay plan: {exc}") from None

        post_migrate.connect(after_migrate, dispatch_uid="salesflow-after-migrate")
