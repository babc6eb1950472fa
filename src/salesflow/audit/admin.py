from django.contrib import admin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the trail is append-only, even for admins."""

    list_display = ("created", "actor", "action", "task_id", "process_id", "client", "to_user")
    list_filter = ("action",)
    search_fields = ("reason", "actor__username", "to_user__username")
    date_hierarchy = "created"
    list_select_related = ("actor", "client", "to_user")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
