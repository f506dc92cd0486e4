"""App config for the developer API."""

from django.apps import AppConfig


class DevApiConfig(AppConfig):
    name = "mgmt.devapi"
    label = "devapi"
    verbose_name = "Developer API"
