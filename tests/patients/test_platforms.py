"""The platform seam (issue 15): patient records hear of booking platforms only
through patients.platforms. The Doctolib bridge registers itself in its AppConfig;
a second platform, registered beside it, gets the same calls in the same
transaction, and the fields it leads are locked on the record's form."""

import pytest
from django.db import transaction

from doctolib_bridge.models import ChangeFeedEntry
from patients import platforms, services
from tests.factories import PatientFactory
from web.forms_akten import PatientForm

pytestmark = pytest.mark.django_db


class Recorder:
    """A second platform that leads `email` of records whose city is Potsdam and
    records what it hears, with whether a transaction was open."""

    name = "zweite"

    def __init__(self):
        self.heard = []

    def led_fields(self, patient) -> list[str]:
        return ["email"] if patient.city == "Potsdam" else []

    def synced_fields_changed(self, patient, names) -> None:
        self.heard.append((patient.pk, list(names), transaction.get_connection().in_atomic_block))


@pytest.fixture
def second():
    recorder = Recorder()
    platforms.register(recorder)
    yield recorder
    platforms._platforms.pop(recorder.name)


def test_the_bridge_registers_itself_at_start():
    assert [p.name for p in platforms.registered()] == ["doctolib"]


def test_a_second_platform_hears_each_change_in_the_same_transaction(organisation, second):
    patient = PatientFactory(organisation=organisation, sync_to_doctolib=True)

    services.patient_update(patient=patient, city="Potsdam", mobile_phone="+491701234567")

    assert second.heard == [(patient.pk, ["city", "mobile_phone"], True)]
    # the bridge heard it too: an unlinked record with the checkbox goes to the feed
    assert ChangeFeedEntry.objects.filter(patient=patient).exists()


def test_a_change_that_rolls_back_leaves_nothing_queued(organisation, second):
    patient = PatientFactory(organisation=organisation, sync_to_doctolib=True)

    with pytest.raises(RuntimeError), transaction.atomic():
        services.patient_update(patient=patient, city="Potsdam")
        raise RuntimeError("the caller fails after the change")

    assert not ChangeFeedEntry.objects.filter(patient=patient).exists()
    patient.refresh_from_db()
    assert patient.city != "Potsdam"


def test_changes_from_a_platform_itself_are_not_told_back(organisation, second):
    patient = PatientFactory(organisation=organisation)

    services.patient_update(patient=patient, city="Potsdam", queue_for_doctolib=False)

    assert second.heard == []


def test_led_fields_are_the_union_and_lock_the_form(organisation, second):
    linked = PatientFactory(
        organisation=organisation, doctolib_patient_id="dl-1", sync_to_doctolib=True, city="Potsdam"
    )

    assert platforms.led_fields(linked) == ["mobile_phone", "landline_phone", "email"]
    assert platforms.led_fields(linked, platform="zweite") == ["email"]
    unlinked = PatientFactory(organisation=organisation, city="Potsdam")
    assert platforms.led_fields(unlinked) == ["email"]
    assert platforms.led_fields(unlinked, platform="doctolib") == []
    form = PatientForm(patient=unlinked)
    assert form.fields["email"].disabled
    assert not form.fields["city"].disabled
