from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "web"
    verbose_name = "Seiten für das Praxisteam"

    def ready(self):
        from web import (
            login_throttle,  # noqa: F401 - connects the failed-login counter
            sitzung,  # noqa: F401 - a login sets the session's end
        )
