from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import ReportRecipient, Snapshot


@admin.register(ReportRecipient)
class ReportRecipientAdmin(admin.ModelAdmin[ReportRecipient]):
    """Who gets the daily report by e-mail. The time it goes out is the periodic task
    "reports: daily queue report" (Periodic tasks → Periodic tasks)."""

    list_display = ("email", "name", "active")
    list_editable = ("active",)
    search_fields = ("email", "name")


@admin.register(Snapshot)
class SnapshotAdmin(admin.ModelAdmin[Snapshot]):
    """Stored reports: read here, built by the schedule or ``salesflow report daily``."""

    list_display = ("day", "generated", "emailed", "orders_delivered", "delivered_amount")
    date_hierarchy = "day"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
