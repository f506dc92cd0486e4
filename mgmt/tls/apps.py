"""App config of the gateway's TLS certificates (HTTPS served over SDS)."""

from django.apps import AppConfig


class TlsConfig(AppConfig):
    name = "mgmt.tls"
    label = "tls"
    verbose_name = "TLS"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from mgmt.tls import signals

        signals.connect()
