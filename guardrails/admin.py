"""Admin for the signature database and the security-event log.

Patterns are embedded on save (the vector is never typed by hand); an event
becomes a pattern with the "add as pattern" actions, one per category.
"""

from __future__ import annotations

from django.contrib import admin, messages

from guardrails import services
from guardrails.models import InjectionPattern, SecurityEvent


@admin.register(InjectionPattern)
class InjectionPatternAdmin(admin.ModelAdmin):
    list_display = ("__str__", "category", "source", "active", "created_at")
    list_filter = ("active", "category", "source")
    search_fields = ("text",)
    fields = ("text", "category", "source", "active", "created_by", "created_at")
    readonly_fields = ("created_by", "created_at")
    actions = ["retire", "reactivate"]

    def save_model(self, request, obj: InjectionPattern, form, change: bool) -> None:
        if not change or "text" in form.changed_data:
            obj.embedding = services.pattern_vectors([obj.text])[0]
        if not change:
            obj.created_by = request.user
            obj.source = obj.source or InjectionPattern.SOURCE_CURATOR
        super().save_model(request, obj, form, change)

    @admin.action(description="Retire the selected patterns (stop matching)")
    def retire(self, request, queryset) -> None:
        changed = services.patterns_set_active(queryset.values_list("pk", flat=True), active=False)
        self.message_user(request, f"{changed} pattern(s) retired.")

    @admin.action(description="Re-activate the selected patterns")
    def reactivate(self, request, queryset) -> None:
        changed = services.patterns_set_active(queryset.values_list("pk", flat=True), active=True)
        self.message_user(request, f"{changed} pattern(s) re-activated.")


def _add_as(category: str):
    def action(modeladmin, request, queryset) -> None:
        for event in queryset:
            services.pattern_add_from_event(event=event, category=category, user=request.user)
        modeladmin.message_user(
            request, f"{queryset.count()} message(s) added as {category} patterns.", messages.SUCCESS
        )

    action.__name__ = f"add_as_{category}"
    return admin.action(description=f"Add as pattern: {category.replace('_', ' ')}")(action)


@admin.register(SecurityEvent)
class SecurityEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "decision", "score", "similarity", "short_text", "reviewed")
    list_filter = ("decision", "reviewed")
    search_fields = ("text",)
    readonly_fields = [f.name for f in SecurityEvent._meta.fields if f.name != "reviewed"]
    actions = [_add_as(c) for c in InjectionPattern.Category.values]

    @admin.display(description="message")
    def short_text(self, obj: SecurityEvent) -> str:
        return obj.text[:80]

    def has_add_permission(self, request) -> bool:
        return False
