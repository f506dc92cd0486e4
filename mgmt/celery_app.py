"""The Celery application: broker and options from Django settings, the beat schedule here.

Worker: `python -m celery -A mgmt.celery_app worker`; beat: `python -m celery -A
mgmt.celery_app beat`. `make run` starts both on the embedded Redis.
"""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mgmt.settings")

app = Celery("tollgate")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["mgmt.gateway", "mgmt.analytics", "mgmt.billing", "mgmt.oauth"])


def beat_schedule(every_minutes: int) -> dict[str, dict[str, object]]:
    """The schedule, in code: the deprecation job every `every_minutes` (at most hourly),
    the retention of control-plane history hourly, the analytics fold every minute and
    its retention hourly.

    The minutes divide the hour, so runs stay evenly spaced across it (a crontab of */45
    would run at :00 and :45).
    """
    if every_minutes <= 0 or 60 % every_minutes:
        raise ValueError(
            f"TOLLGATE_DEPRECATION_JOB_MINUTES must divide 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, "
            f"20, 30 or 60), not {every_minutes}"
        )
    return {
        "deprecation-job": {
            "task": "tollgate.lifecycle.deprecation_job",
            "schedule": crontab(minute=f"*/{every_minutes}" if every_minutes < 60 else "0"),
            # A run that waited longer than one period is stale: the next one does its work.
            "options": {"expires": every_minutes * 60},
        },
        "retention": {
            "task": "tollgate.gateway.retention",
            # Off the hour, away from the deprecation job's runs.
            "schedule": crontab(minute="37"),
            "options": {"expires": 3600},
        },
        "analytics-fold": {
            "task": "tollgate.analytics.fold",
            "schedule": crontab(),
            # A missed minute is folded by the next run: a queued stale one only adds load.
            "options": {"expires": 60},
        },
        "billing-meter": {
            "task": "tollgate.billing.meter",
            "schedule": crontab(),
            # Each run reads every open period's counter: a stale queued one only adds load.
            "options": {"expires": 60},
        },
        "billing-webhooks": {
            "task": "tollgate.billing.deliver_webhooks",
            "schedule": crontab(),
            "options": {"expires": 60},
        },
        "oauth-signing-keys": {
            "task": "tollgate.oauth.rotate_signing_keys",
            # Hourly suffices: rotations are days apart; a retired key lingers an hour at most.
            "schedule": crontab(minute="41"),
            "options": {"expires": 3600},
        },
        "analytics-retention": {
            "task": "tollgate.analytics.retention",
            # Off the hour and away from the control-plane retention at :37.
            "schedule": crontab(minute="23"),
            "options": {"expires": 3600},
        },
    }


app.conf.beat_schedule = beat_schedule(
    int(os.environ.get("TOLLGATE_DEPRECATION_JOB_MINUTES", "15"))
)
