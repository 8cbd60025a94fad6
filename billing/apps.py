from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Abrechnung"

    def ready(self):
        from billing import disclosure
        from billing.retention import SOURCE
        from patients import disclosure as patient_disclosure
        from patients.retention import register

        register(SOURCE)
        patient_disclosure.register(disclosure.SECTION)
