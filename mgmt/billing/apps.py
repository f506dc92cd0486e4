"""App config of usage-based billing: prices, the meter of record, invoices, webhooks."""

from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "mgmt.billing"
    label = "billing"
    verbose_name = "Billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from mgmt.billing import signals

        signals.connect()
