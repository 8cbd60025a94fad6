from django.apps import AppConfig


class AppointmentsConfig(AppConfig):
    name = "appointments"
    verbose_name = "Kalender und Termine"

    def ready(self):
        from appointments.retention import SOURCE
        from patients.retention import register

        register(SOURCE)
