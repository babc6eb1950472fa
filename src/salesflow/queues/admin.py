from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.http import HttpRequest

from salesflow.audit.admin import AuditedAdminMixin

from .models import Absence


@admin.register(Absence)
class AbsenceAdmin(admin.ModelAdmin[Absence]):
    list_display = ("user", "starts", "ends", "note")
    list_filter = ("starts",)
    search_fields = ("user__username", "user__first_name", "user__last_name")
    raw_id_fields = ("user",)


User = get_user_model()
admin.site.unregister(User)


if TYPE_CHECKING:
    _UserAdmin = UserAdmin[Any]
else:
    _UserAdmin = UserAdmin


@admin.register(User)
class PersonAdmin(AuditedAdminMixin, _UserAdmin):
    """People are deactivated, never deleted: a deleted user's tasks would go with them.
    To let someone go, offboard them from the team console (their work moves first).
    Every change -- their groups (roles) above all -- is an audit event."""

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


admin.site.unregister(Group)


@admin.register(Group)
class RoleGroupAdmin(AuditedAdminMixin, GroupAdmin):
    """A role's group: its permissions come from roles/*.toml; a change here is audited."""
