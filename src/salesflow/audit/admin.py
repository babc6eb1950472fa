from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin[AuditEvent]):
    """Read-only: the trail is append-only, even for admins."""

    list_display = ("created", "actor", "action", "task_id", "process_id", "client", "to_user")
    list_filter = ("action",)
    search_fields = ("reason", "actor__username", "to_user__username")
    date_hierarchy = "created"
    list_select_related = ("actor", "client", "to_user")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
