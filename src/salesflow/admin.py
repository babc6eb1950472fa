from django.contrib import admin
from django.contrib.auth import get_user_model

from .models import Role


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    """Roles come from roles/*.toml (``salesflow sync-roles``); here they are read, and
    people are given a role by adding them to its group on their user page."""

    list_display = ("code", "title_en", "title_ru", "active", "members", "synced")
    readonly_fields = [f.name for f in Role._meta.fields] + ["members"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("group")

    @admin.display(description="members")
    def members(self, obj):
        users = get_user_model()._default_manager.filter(groups=obj.group, is_active=True)
        return ", ".join(u.get_username() for u in users.order_by("username")) or "-"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
