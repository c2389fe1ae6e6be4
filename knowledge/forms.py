from __future__ import annotations

from django import forms


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"multiple": True, "id": "id_files"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if not data and self.required:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)]


class UploadForm(forms.Form):
    files = MultipleFileField(help_text="Markdown, HTML, text, PDF, or a .zip of those.")
    verify = forms.BooleanField(required=False, label="Verify at once (trusted import)")


class SourceKeyForm(forms.Form):
    source_key = forms.CharField(max_length=500)


class SourceEditForm(forms.Form):
    """What a source's page lets a curator change: its name, address and patterns (one per line)."""

    name = forms.CharField(max_length=200, help_text="How curators will know it, e.g. “Help centre”.")
    url = forms.URLField(
        required=False,
        max_length=1000,
        assume_scheme="https",
        label="Start page or sitemap.xml",
        help_text="Pages on the same site linked from here are read; robots.txt is respected.",
    )
    folder = forms.CharField(required=False, max_length=1000, label="Folder")
    include = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Only these paths",
        help_text="One per line, e.g. /help/* (empty: the whole site).",
    )
    exclude = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Never these paths",
        help_text="One per line, e.g. /blog/* ; end a path with $ for that page alone, e.g. /help/old-prices$",
    )

    @classmethod
    def of(cls, source) -> SourceEditForm:
        return cls(
            initial={
                "name": source.name,
                "url": source.url,
                "folder": source.folder,
                "include": "\n".join(source.include_patterns),
                "exclude": "\n".join(source.exclude_patterns),
            }
        )

    @staticmethod
    def lines(text: str) -> list[str]:
        return [line.strip() for line in (text or "").splitlines() if line.strip()]


class SourceForm(SourceEditForm):
    """A website or folder to sync from; patterns one per line."""

    kind = forms.ChoiceField(
        choices=[("website", "Website"), ("folder", "Folder on the server")],
        initial="website",
        widget=forms.RadioSelect,
    )
    schedule = forms.ChoiceField(choices=[("off", "Off"), ("hourly", "Hourly"), ("daily", "Daily")], initial="daily")
    auto_verify = forms.BooleanField(
        required=False, label="Changed pages answer at once (skip review)", help_text="Off: a curator verifies them."
    )

    def clean(self):
        data = super().clean()
        if data.get("kind") == "website" and not data.get("url"):
            self.add_error("url", "Give the help centre's address.")
        if data.get("kind") == "folder" and not data.get("folder"):
            self.add_error("folder", "Give the folder's path on the server.")
        return data


class SourceScheduleForm(forms.Form):
    schedule = forms.ChoiceField(choices=[("off", "Off"), ("hourly", "Hourly"), ("daily", "Daily")])
    auto_verify = forms.BooleanField(required=False, label="Changed pages answer at once")
