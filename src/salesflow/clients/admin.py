from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from salesflow.audit.admin import AuditedAdminMixin
from salesflow.models import EXPORT_CLIENTS

from .masking import mask_email, mask_phone
from .models import Client, Contact, DuplicateReview, Lead, Order, Reactivation

if TYPE_CHECKING:
    _ClientAdmin = admin.ModelAdmin[Client]
    _LeadAdmin = admin.ModelAdmin[Lead]
    _OrderAdmin = admin.ModelAdmin[Order]
else:
    _ClientAdmin = _LeadAdmin = _OrderAdmin = admin.ModelAdmin


class ContactInline(admin.TabularInline[Contact, Client]):
    """Contacts in full only for admins who may export the base anyway; other staff see
    them masked and read-only (the admin is no back door around the masking)."""

    model = Contact
    extra = 0

    def _full(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(EXPORT_CLIENTS))

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if self._full(request):
            return ("name", "position", "phone", "email", "is_decision_maker")
        return ("name", "position", "masked_phone", "masked_email", "is_decision_maker")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if self._full(request):
            return ()
        return ("name", "position", "masked_phone", "masked_email", "is_decision_maker")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._full(request) and super().has_add_permission(request, obj)

    @admin.display(description=_("phone"))
    def masked_phone(self, contact: Contact) -> str:
        return mask_phone(contact.phone)

    @admin.display(description=_("e-mail"))
    def masked_email(self, contact: Contact) -> str:
        return mask_email(contact.email)


@admin.register(Client)
class ClientAdmin(AuditedAdminMixin, _ClientAdmin):
    list_display = ("name", "tax_number", "status", "merged_into", "created")
    list_filter = ("status",)
    search_fields = ("name", "legal_name", "tax_number")
    readonly_fields = ("merged_into", "name_key", "tax_key")
    inlines = [ContactInline]

    def audit_client_id(self, obj: Client) -> int | None:
        return obj.pk


@admin.register(Lead)
class LeadAdmin(AuditedAdminMixin, _LeadAdmin):
    list_display = ("id", "client", "source", "status", "created")
    list_filter = ("source", "status")
    search_fields = ("client__name",)
    list_select_related = ("client",)
    raw_id_fields = ("client", "contact", "process", "created_by")

    def audit_client_id(self, obj: Lead) -> int | None:
        return obj.client_id


@admin.register(Order)
class OrderAdmin(AuditedAdminMixin, _OrderAdmin):
    list_display = ("id", "lead", "amount", "discount", "discount_needs_approval", "delivered")
    list_select_related = ("lead__client",)
    raw_id_fields = ("lead", "discount_approved_by")

    def audit_client_id(self, obj: Order) -> int | None:
        return obj.lead.client_id


class _ReadOnly(admin.ModelAdmin[Any]):
    """Written by the services only (decisions and reactivations are audited there)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DuplicateReview)
class DuplicateReviewAdmin(_ReadOnly):
    list_display = ("created", "client", "candidate", "decision", "decided_by", "decided")
    list_filter = ("decision",)
    list_select_related = ("client", "candidate", "decided_by")


@admin.register(Reactivation)
class ReactivationAdmin(_ReadOnly):
    list_display = ("created", "client", "due", "cycle_days", "bought_recently", "lead")
    list_select_related = ("client", "lead")
