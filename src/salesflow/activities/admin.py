"""The company's memory in the admin: telephone exchanges are registered here; the rest
is read (activities, e-mail, calls and reminders are written by the services)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Activity, CallIntegration, ExchangeCall, MailMessage, Reminder

if TYPE_CHECKING:  # generic for the type checker only (Django's class is not subscriptable)
    ModelAdmin = admin.ModelAdmin[Any]
else:
    ModelAdmin = admin.ModelAdmin


@admin.register(CallIntegration)
class CallIntegrationAdmin(ModelAdmin):
    """A PBX allowed to report calls (``POST /api/calls/``), with its shared secret."""

    list_display = ("name", "active", "created")
    list_filter = ("active",)
    fields = ("name", "secret", "active")


class ReadOnly(ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Activity)
class ActivityAdmin(ReadOnly):
    list_display = ("occurred", "kind", "direction", "source", "client", "author")
    list_filter = ("kind", "source", "direction")
    list_select_related = ("client", "author")
    raw_id_fields = ("client", "lead", "task", "contact", "author", "mail", "triaged_by")
    date_hierarchy = "occurred"


@admin.register(MailMessage)
class MailMessageAdmin(ReadOnly):
    list_display = ("sent", "direction", "from_address", "subject", "attachment_count")
    list_filter = ("direction",)
    search_fields = ("message_id", "subject", "from_address")
    exclude = ("html_body",)


@admin.register(ExchangeCall)
class ExchangeCallAdmin(ReadOnly):
    list_display = ("received", "integration", "call_id", "status")
    list_filter = ("integration", "status")
    raw_id_fields = ("activity",)


@admin.register(Reminder)
class ReminderAdmin(ReadOnly):
    list_display = ("due", "client", "what", "started")
    list_select_related = ("client",)
    raw_id_fields = ("client", "lead", "activity", "handoff_note", "promised_by", "process")
