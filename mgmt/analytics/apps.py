"""App config of traffic analytics: usage rollups folded from the access-log collector."""

from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "mgmt.analytics"
    label = "analytics"
    verbose_name = "Traffic analytics"
    default_auto_field = "django.db.models.BigAutoField"
