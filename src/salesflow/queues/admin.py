from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest

from .models import Absence


@admin.register(Absence)
class AbsenceAdmin(admin.ModelAdmin[Absence]):
    list_display = ("user", "starts", "ends", "note")
    list_filter = ("starts",)
    search_fields = ("user__username", "user__first_name", "user__last_name")
    raw_id_fields = ("user",)


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class PersonAdmin(UserAdmin):  # type: ignore[type-arg]  # the user model is configurable
    """People are deactivated, never deleted: a deleted user's tasks would go with them.
    To let someone go, offboard them from the team console (their work moves first)."""

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
