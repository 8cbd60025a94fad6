"""The Doctolib bridge as a booking platform of the patient records
(patients.platforms): it leads the contact fields of linked records
(doctolib_bridge.fields) and queues staff changes of the fields lemniscus leads for
the plugin's change feed (doctolib_bridge.sync). Registered in DoctolibBridgeConfig.ready."""

from doctolib_bridge.fields import doctolib_led_fields_for
from doctolib_bridge.sync import queue_lemniscus_changes

NAME = "doctolib"


class DoctolibPlatform:
    name = NAME

    def led_fields(self, patient) -> list[str]:
        return doctolib_led_fields_for(patient)

    def synced_fields_changed(self, patient, names: list[str]) -> None:
        queue_lemniscus_changes(patient, names)
