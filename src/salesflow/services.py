"""Copying the role files into Django's auth: groups, permissions, Role rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.apps import apps as global_apps
from django.contrib.auth.models import Group, Permission
from django.db import transaction

from .conveyor.registry import flows, human_nodes
from .models import MANAGE_QUEUES, Role
from .roles import Role as RoleSpec
from .roles import get_roles
from .schedules import schedules_sync


@dataclass(frozen=True)
class RoleSyncResult:
    code: str
    created: bool
    permissions: tuple[str, ...]


def _role_permissions(spec: RoleSpec) -> set[str]:
    """Everything a role's group holds: its nodes' permissions, the permissions it lists,
    and the right to see each flow it works in (every flow, for queue managers)."""
    nodes = human_nodes()
    granted = {nodes[ref]._owner_permission for ref in spec.nodes if nodes[ref]._owner_permission}
    granted.update(spec.permissions)
    for flow_class in flows():
        # a role performing one of the flow's stages, or holding a stage's permission (it
        # may be given that stage's tasks: a hunter, the reminders of their deals)
        works_in_flow = any(
            node.flow_class is flow_class
            and (ref in spec.nodes or node._owner_permission in spec.permissions)
            for ref, node in nodes.items()
        )
        if works_in_flow or MANAGE_QUEUES in spec.permissions:
            opts = flow_class.process_class._meta
            granted.add(f"{opts.app_label}.view_{opts.model_name}")
            if MANAGE_QUEUES in spec.permissions:
                granted.add(f"{opts.app_label}.manage_{opts.model_name}")
    return granted


def _permission_objects(names: set[str]) -> list[Permission]:
    found = []
    for name in sorted(names):
        app_label, codename = name.split(".", 1)
        try:
            found.append(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        except Permission.DoesNotExist:
            raise LookupError(
                f"permission {name!r} does not exist in the database; run 'salesflow migrate'"
            ) from None
    return found


@transaction.atomic
def roles_sync() -> list[RoleSyncResult]:
    """Make the database match ``roles/``: one group and one Role row per file, the group
    holding exactly the role's permissions. A role whose file is gone is marked inactive
    and its group loses every permission (its members keep their accounts and history).
    Idempotent."""
    results = []
    specs = get_roles()
    for spec in specs.values():
        group, _ = Group.objects.get_or_create(name=spec.code)
        role, created = Role.objects.update_or_create(
            code=spec.code,
            defaults={
                "title_en": spec.title["en"],
                "title_ru": spec.title["ru"],
                "group": group,
                "source_file": spec.path,
                "definition": _jsonable(spec.raw),
                "active": True,
            },
        )
        names = _role_permissions(spec)
        group.permissions.set(_permission_objects(names))
        results.append(
            RoleSyncResult(code=spec.code, created=created, permissions=tuple(sorted(names)))
        )
    for gone in Role.objects.exclude(code__in=specs).filter(active=True):
        gone.active = False
        gone.save(update_fields=["active", "synced"])
        gone.group.permissions.clear()
    return results


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def after_migrate(sender: Any, **kwargs: Any) -> None:
    """post_migrate hook: once the last app has migrated, create every app's permissions
    (Django does it app by app), sync the roles and create the missing periodic jobs."""
    from django.contrib.auth.management import create_permissions

    # Django sends post_migrate once per app that has a models module, in INSTALLED_APPS order.
    app_configs = [a for a in global_apps.get_app_configs() if a.models_module is not None]
    if sender is not app_configs[-1]:
        return
    for app_config in app_configs:
        create_permissions(app_config, verbosity=0, using=kwargs.get("using", "default"))
    roles_sync()
    schedules_sync()
