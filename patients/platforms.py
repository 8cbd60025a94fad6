"""The seam between patient records and external booking platforms (issue 15).

A platform (today the Doctolib bridge; tomorrow, say, Docplanner's integration API)
leads some fields of the records linked to it and wants to hear when staff change a
field it syncs. The patient domain does not import any platform: each registers an
object with these two methods here, explicitly, in its AppConfig.ready (no signals),
and the patient services and forms ask the registry.

- `led_fields(patient)`: the fields the platform leads for this record (none unless
  the record is linked to it); staff cannot change them here.
- `synced_fields_changed(patient, names)`: staff (or an import) changed `names` of
  the record; called by patients.services in the same transaction, after the row is
  saved, so that what the platform queues commits or rolls back with the change.

docs/decisions.md ("A second booking platform") sketches how one would attach.
"""

from typing import Protocol


class PatientPlatform(Protocol):
    name: str

    def led_fields(self, patient) -> list[str]: ...

    def synced_fields_changed(self, patient, names: list[str]) -> None: ...


_platforms: dict[str, PatientPlatform] = {}


def register(platform: PatientPlatform) -> None:
    """Add `platform` (its `name` once: registering it again replaces it, so that a
    repeated `ready()` in tests does not call it twice)."""
    _platforms[platform.name] = platform


def registered() -> list[PatientPlatform]:
    return list(_platforms.values())


def led_fields(patient, *, platform: str | None = None) -> list[str]:
    """The fields some platform (or the one named) leads for this record, in the
    platforms' order, each once."""
    fields: dict[str, None] = {}
    for name, registered_platform in _platforms.items():
        if platform is None or name == platform:
            fields.update(dict.fromkeys(registered_platform.led_fields(patient)))
    return list(fields)


def synced_fields_changed(patient, names: list[str]) -> None:
    """Tell every platform that `names` of the record changed (in the caller's
    transaction)."""
    for platform in _platforms.values():
        platform.synced_fields_changed(patient, names)
