from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Abrechnung"

    def ready(self):
        from billing.retention import SOURCE
        from patients.retention import register

        register(SOURCE)
