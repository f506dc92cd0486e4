"""App config: connects the publish-on-commit signal handlers."""

from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "mgmt.gateway"
    label = "gateway"
    verbose_name = "Tollgate"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from mgmt.gateway import signals

        signals.connect()
