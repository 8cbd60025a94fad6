from django.apps import AppConfig


class DoctolibBridgeConfig(AppConfig):
    name = "doctolib_bridge"
    verbose_name = "Doctolib-Anbindung"

    def ready(self):
        # The patient records hear of the bridge only through their platform registry.
        from doctolib_bridge.platform import DoctolibPlatform
        from patients import platforms

        platforms.register(DoctolibPlatform())
