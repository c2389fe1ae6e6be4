"""Flows in the Django admin: read-only (versions are written through the curation screens and
`manage.py flows`, which keep the history and the one-approved-version rule)."""

from django.contrib import admin

from flows.models import Flow, FlowVersion


@admin.register(FlowVersion)
class FlowVersionAdmin(admin.ModelAdmin):
    list_display = ("flow", "number", "status", "approved_at", "created_at")
    list_filter = ("status",)
    readonly_fields = [f.name for f in FlowVersion._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Flow)
class FlowAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")
    readonly_fields = ("name", "created_by", "created_at")

    def has_add_permission(self, request) -> bool:
        return False
