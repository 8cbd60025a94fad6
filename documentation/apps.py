from django.apps import AppConfig


class DocumentationConfig(AppConfig):
    name = "documentation"
    verbose_name = "Dokumentation und Anhänge"

    def ready(self):
        from documentation.retention import SOURCE
        from patients.retention import register

        register(SOURCE)
