"""App config of Tollgate's OAuth2 authorization server."""

from django.apps import AppConfig


class OAuthConfig(AppConfig):
    name = "mgmt.oauth"
    label = "oauth"
    verbose_name = "OAuth2 authorization server"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from mgmt.oauth import signals

        signals.connect()
