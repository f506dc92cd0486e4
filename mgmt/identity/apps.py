"""App config of caller identities (JWT issuers and clients, mTLS client certificates)."""

from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "mgmt.identity"
    label = "identity"
    verbose_name = "Identity"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from mgmt.identity import signals

        signals.connect()
