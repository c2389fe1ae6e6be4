from django.contrib import admin

from escalation.models import CannedReply, Escalation


@admin.register(Escalation)
class EscalationAdmin(admin.ModelAdmin):
    list_display = ("conversation", "reason", "priority", "status", "claimed_by", "opened_at", "resolved_at")
    list_filter = ("status", "reason")
    readonly_fields = [f.name for f in Escalation._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    list_display = ("shortcut", "active", "updated_at")
    list_editable = ("active",)
    search_fields = ("shortcut", "text")
