from celery import shared_task

from insights import services


@shared_task(name="insights.alert_notify", autoretry_for=(OSError,), retry_backoff=30, retry_kwargs={"max_retries": 3})
def alert_notify(*, alert_id: int) -> bool:
    return services.alert_notify(alert_id=alert_id)


@shared_task(name="insights.drift_check")
def drift_check() -> int:
    return len(services.drift_check())


@shared_task(name="insights.rollup_recent")
def rollup_recent() -> int:
    return services.rollup_recent()


@shared_task(name="insights.alert_rules_check")
def alert_rules_check() -> int:
    return len(services.alert_rules_check())
