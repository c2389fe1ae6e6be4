from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo shop (Brightwheel Bikes): its help centre in demo/kb/, its staff accounts, and the
    questions in demo/questions.jsonl. Loaded only on the embedded default with DEBUG on."""

    name = "demo"
