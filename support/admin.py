import re

from django import forms
from django.contrib import admin

from support.models import Conversation, CriticalTopic, Message


class CriticalTopicForm(forms.ModelForm):
    class Meta:
        model = CriticalTopic
        fields = ["name", "priority", "patterns", "examples", "reply", "active"]

    def clean_patterns(self) -> str:
        patterns = self.cleaned_data["patterns"]
        for number, line in enumerate(patterns.splitlines(), start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                re.compile(line, re.IGNORECASE)
            except re.error as exc:
                raise forms.ValidationError(f"Line {number} is not a valid regular expression: {exc}") from None
        return patterns


@admin.register(CriticalTopic)
class CriticalTopicAdmin(admin.ModelAdmin):
    form = CriticalTopicForm
    list_display = ("name", "priority", "active")
    list_editable = ("priority", "active")


class MessageInline(admin.TabularInline):
    model = Message
    fields = ("created_at", "role", "kind", "text", "reason", "composer", "thumbs")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("id", "channel", "status", "turns", "tokens_used", "rating", "created_at")
    list_filter = ("status", "channel")
    readonly_fields = [f.name for f in Conversation._meta.fields if f.name != "token_hash"]
    exclude = ("token_hash",)
    inlines = [MessageInline]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("created_at", "role", "kind", "reason", "composer", "latency_ms")
    list_filter = ("role", "kind", "reason")
    readonly_fields = [f.name for f in Message._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
