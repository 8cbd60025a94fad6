from django.apps import AppConfig


class AppointmentsConfig(AppConfig):
    name = "appointments"
    verbose_name = "Kalender und Termine"

    def ready(self):
        from appointments import disclosure
        from appointments.retention import SOURCE
        from patients import disclosure as patient_disclosure
        from patients.retention import register

        register(SOURCE)
        patient_disclosure.register(disclosure.SECTION)
