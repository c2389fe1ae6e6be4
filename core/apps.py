from celery.signals import worker_process_init
from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Groundwork core"

    def ready(self) -> None:
        from core.startup import warm_worker_process  # imported here: it reads settings and models

        worker_process_init.connect(warm_worker_process, dispatch_uid="core.warm_worker")
