from django.contrib import admin, messages

from insights import services
from insights.models import Alert, AlertRule, DailyRollup


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("opened_at", "kind", "status", "message", "notified_at", "resolved_at")
    list_filter = ("status", "kind")
    readonly_fields = [f.name for f in Alert._meta.fields]
    actions = ["resolve"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Resolve selected alerts")
    def resolve(self, request, queryset):
        for alert in queryset.filter(status=Alert.Status.OPEN):
            services.alert_resolve(alert=alert, user=request.user)
        messages.success(request, "Resolved.")


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ("metric", "threshold", "baseline_ratio", "min_events", "active")
    list_editable = ("threshold", "baseline_ratio", "min_events", "active")


@admin.register(DailyRollup)
class DailyRollupAdmin(admin.ModelAdmin):
    list_display = ("date", "channel", "computed_at")
    list_filter = ("channel",)
    readonly_fields = ("date", "channel", "data", "computed_at")

    def has_add_permission(self, request) -> bool:
        return False
