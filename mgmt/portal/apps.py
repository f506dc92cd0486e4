"""App config for the portal (its templates and static files)."""

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "mgmt.portal"
    label = "portal"
    verbose_name = "Developer portal"
