"""Codes as people read them, for every app's templates (the words live in core.choices)."""

from __future__ import annotations

from django import template

from core import choices

register = template.Library()


@register.filter
def reason_label(code: str) -> str:
    return choices.reason_label(code) if code else ""


@register.filter
def detail_label(code: str) -> str:
    return choices.detail_label(code) if code else ""


@register.filter
def kind_label(code: str) -> str:
    return choices.kind_label(code) if code else ""
