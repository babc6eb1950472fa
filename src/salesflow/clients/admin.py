from django.contrib import admin

from .models import Client, Contact, Lead, Order


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ("name", "tax_number", "status", "created")
    list_filter = ("status",)
    search_fields = ("name", "legal_name", "tax_number")
    inlines = [ContactInline]


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = ("id", "client", "source", "status", "created")
    list_filter = ("source", "status")
    search_fields = ("client__name",)
    list_select_related = ("client",)
    raw_id_fields = ("client", "contact", "process", "created_by")


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("id", "lead", "amount", "discount", "discount_needs_approval", "delivered")
    list_select_related = ("lead__client",)
    raw_id_fields = ("lead", "discount_approved_by")
