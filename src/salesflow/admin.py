from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest
from knox.admin import AuthTokenAdmin
from knox.models import AuthToken
from viewflow.workflow.admin import ProcessAdmin, TaskAdmin
from viewflow.workflow.models import Process, Task

from .audit.admin import AuditedAdminMixin
from .models import JobDelivery, Notification, Role


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin[Notification]):
    """The outbox, read only: a row with "sending started" and no "sent" is a send whose
    outcome nobody saw (its worker was killed) -- check the mail server's log."""

    list_display = ("key", "subject", "created", "attempted", "sent")
    list_filter = (("sent", admin.EmptyFieldListFilter),)
    search_fields = ("key", "subject")
    readonly_fields = ("key", "subject", "body", "recipients", "created", "attempted", "sent")

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(JobDelivery)
class JobDeliveryAdmin(admin.ModelAdmin[JobDelivery]):
    """Jobs started and not finished; *parked* ones were delivered too often (each killed
    its worker): look at the arguments, fix the cause, run the work again by hand, and
    delete the row."""

    list_display = ("name", "task_id", "attempt", "deliveries", "first", "last", "parked")
    list_filter = (("parked", admin.EmptyFieldListFilter), "name")
    readonly_fields = list_display + ("arguments",)

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin[Role]):
    """Roles come from roles/*.toml (``salesflow sync-roles``); here they are read, and
    people are given a role by adding them to its group on their user page."""

    list_display = ("code", "title_en", "title_ru", "active", "members", "synced")
    readonly_fields = [f.name for f in Role._meta.fields] + ["members"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Role]:
        return super().get_queryset(request).select_related("group")

    @admin.display(description="members")
    def members(self, obj: Role) -> str:
        users = get_user_model()._default_manager.filter(groups=obj.group, is_active=True)
        return ", ".join(u.get_username() for u in users.order_by("username")) or "-"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# API tokens (django-rest-knox): every change in the admin is an audit event too.
admin.site.unregister(AuthToken)


@admin.register(AuthToken)
class AuditedAuthTokenAdmin(AuditedAdminMixin, AuthTokenAdmin):
    pass


# viewflow's tasks and processes: read-only here. A change of a task (its owner, its
# permission, its terms) goes through the engine's services with its audit event; the
# admin would change them with neither (and deleting a process deletes its history).
admin.site.unregister(Task)
admin.site.unregister(Process)


class _ReadOnlyFlowAdmin:
    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(Task)
class ReadOnlyTaskAdmin(_ReadOnlyFlowAdmin, TaskAdmin):
    pass


@admin.register(Process)
class ReadOnlyProcessAdmin(_ReadOnlyFlowAdmin, ProcessAdmin):
    pass
