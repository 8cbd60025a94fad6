from django.apps import AppConfig


class DocumentationConfig(AppConfig):
    name = "documentation"
    verbose_name = "Dokumentation und Anhänge"

    def ready(self):
        from documentation import disclosure
        from documentation.retention import SOURCE
        from patients import disclosure as patient_disclosure
        from patients.retention import register

        register(SOURCE)
        patient_disclosure.register(disclosure.DOCUMENTATION)
        patient_disclosure.register(disclosure.ATTACHMENTS)
