from django import forms
from django.contrib import admin, messages

from knowledge import services
from knowledge.models import (
    ApprovedAnswer,
    ApprovedAnswerVersion,
    Document,
    DocumentVersion,
    IngestionJob,
    Source,
    SyncRun,
)


class DocumentVersionInline(admin.TabularInline):
    model = DocumentVersion
    fields = ("number", "title", "is_current", "ingested_at", "verified_at", "verified_by")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ("title", "source", "source_key", "status", "updated_at")
    list_filter = ("status", "source")
    search_fields = ("title", "source_key")
    readonly_fields = ("status", "created_at", "updated_at")
    inlines = [DocumentVersionInline]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # retire instead: versions stay for audit


@admin.register(DocumentVersion)
class DocumentVersionAdmin(admin.ModelAdmin):
    list_display = ("document", "number", "is_current", "ingested_at", "verified_at")
    readonly_fields = [f.name for f in DocumentVersion._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(IngestionJob)
class IngestionJobAdmin(admin.ModelAdmin):
    list_display = ("source_key", "state", "outcome", "progress", "attempts", "created_at")
    list_filter = ("state", "outcome")
    readonly_fields = [f.name for f in IngestionJob._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    """Read-only here: sources are added and scheduled from /kb/sources/ or `manage.py sources`,
    which keep beat's periodic task in step."""

    list_display = ("name", "kind", "url", "folder", "schedule", "auto_verify", "status", "last_run_at", "deleted_at")
    list_filter = ("kind", "schedule", "status")
    readonly_fields = [f.name for f in Source._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = ("source", "state", "trigger", "pages_seen", "pages_new", "pages_changed", "pages_failed")
    list_filter = ("state", "source")
    readonly_fields = [f.name for f in SyncRun._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


class ApprovedVersionForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}))
    variants = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), help_text="One question per line.")


class ApprovedAnswerVersionInline(admin.TabularInline):
    model = ApprovedAnswerVersion
    fields = ("number", "status", "text", "valid_from", "valid_until", "approved_by", "approved_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(ApprovedAnswer)
class ApprovedAnswerAdmin(admin.ModelAdmin):
    list_display = ("title", "created_at")
    search_fields = ("title", "versions__text", "versions__variants__text")
    inlines = [ApprovedAnswerVersionInline]


@admin.register(ApprovedAnswerVersion)
class ApprovedAnswerVersionAdmin(admin.ModelAdmin):
    """Versions are made with their variants through the service (so variants are embedded)."""

    list_display = ("answer", "number", "status", "valid_until", "approved_at")
    list_filter = ("status",)
    readonly_fields = (
        "answer",
        "number",
        "text",
        "status",
        "created_by",
        "created_at",
        "approved_by",
        "approved_at",
        "variant_list",
    )
    fields = (*readonly_fields, "note", "valid_from", "valid_until")
    actions = ["approve", "retire"]

    @admin.display(description="Question variants")
    def variant_list(self, obj) -> str:
        return "\n".join(v.text for v in obj.variants.all())

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Approve selected versions")
    def approve(self, request, queryset):
        for version in queryset:
            services.approved_version_approve(version=version, user=request.user)
        messages.success(request, "Approved.")

    @admin.action(description="Retire selected versions")
    def retire(self, request, queryset):
        for version in queryset:
            services.approved_version_retire(version=version, user=request.user)
        messages.success(request, "Retired.")
