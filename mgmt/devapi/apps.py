"""App config for the developer API."""

from django.apps import AppConfig


class DevApiConfig(AppConfig):
    name = "mgmt.devapi"
    label = "devapi"
    verbose_name = "Developer API"

    def ready(self) -> None:
        from mgmt.devapi import schema  # noqa: F401 - registers the security schemes
