from django.apps import AppConfig


class DoctolibBridgeConfig(AppConfig):
    name = "doctolib_bridge"
    verbose_name = "Doctolib-Anbindung"
