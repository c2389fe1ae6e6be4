from django.apps import AppConfig


class FlowsConfig(AppConfig):
    """Goal-oriented flows: curated, versioned definitions (models, services, YAML), the engine that
    runs one (engine.py, slots.py), trigger matching (selectors.py) and the calls a flow makes
    (actions.py). The chat runs them from support/pipeline/flow.py."""

    name = "flows"
    default_auto_field = "django.db.models.BigAutoField"
