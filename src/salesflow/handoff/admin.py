from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import HandoffNote


@admin.register(HandoffNote)
class HandoffNoteAdmin(admin.ModelAdmin[HandoffNote]):
    """Notes are history: shown, never edited here."""

    list_display = ("created", "client", "from_node", "to_node", "kind", "author", "acknowledged")
    list_filter = ("kind", "from_node", "to_node")
    search_fields = ("client__name", "text")
    list_select_related = ("client", "author")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
