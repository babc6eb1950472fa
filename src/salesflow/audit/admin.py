from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import AuditEvent
from .services import audit_record


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


class AuditedAdminMixin:
    """A ModelAdmin whose additions, changes and deletions are audit events too.

    Django's admin log (``LogEntry``) is a table any superuser can edit or empty; the
    changes that matter to the client base and to who may do what -- clients, contacts,
    orders, leads, API tokens, group membership -- also go to the append-only trail, in
    the same transaction as the change. The event names the model, the object and the
    fields changed (the admin's own change message), never their values: a contact's
    phone stays out of the trail."""

    def _audit(self, request: Any, obj: Any, what: str, message: Any) -> None:
        client_id = self.audit_client_id(obj)
        audit_record(
            action=AuditEvent.Action.ADMIN_CHANGE,
            actor=request.user,
            # a deleted client cannot be referred to (the trail protects what it names)
            client_id=client_id if what != "deleted" else None,
            reason=f"{what} {obj._meta.label} #{obj.pk}",
            data={
                "change": what,
                "model": obj._meta.label,
                "object": str(obj.pk),
                "client": client_id,
                "message": message if isinstance(message, (list, str)) else str(message),
            },
        )

    def audit_client_id(self, obj: Any) -> int | None:
        """The client the object belongs to, for the client's history (None: none)."""
        return None

    def log_addition(self, request: Any, obj: Any, message: Any) -> Any:
        self._audit(request, obj, "added", message)
        return super().log_addition(request, obj, message)  # type: ignore[misc]

    def log_change(self, request: Any, obj: Any, message: Any) -> Any:
        self._audit(request, obj, "changed", message)
        return super().log_change(request, obj, message)  # type: ignore[misc]

    def log_deletions(self, request: Any, queryset: Any) -> Any:
        for obj in queryset:
            self._audit(request, obj, "deleted", "")
        return super().log_deletions(request, queryset)  # type: ignore[misc]
