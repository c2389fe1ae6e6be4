from django.apps import AppConfig

from core.events import handover_requested


class EscalationConfig(AppConfig):
    name = "escalation"

    def ready(self) -> None:
        # A turn that ends with a person taking over signals it (core.events); the queue is ours.
        # Imported here: models load first.
        from escalation import handlers

        handover_requested.connect(handlers.on_handover_requested, dispatch_uid="escalation.handover")
