"""Record changes in the Protokoll, from every entry point: the services the staff API,
pages and admin call, the nightly erasure and the Doctolib bridge. Names of changed
fields only, never their values."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from audit.actions import Action
from audit.services import SYSTEM
from doctolib_bridge.services import link_create
from patients.models import Patient
from patients.services import (
    patient_archive,
    patient_create,
    patient_delete,
    patient_erase_expired,
    patient_unarchive,
    patient_update,
)
from tests.audit.conftest import assert_no_trace, entries, only
from tests.factories import PatientFactory
from tests.zipper.conftest import doctolib_token, plugin  # noqa: F401 - shared fixtures

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(organisation):
    return PatientFactory(
        organisation=organisation, first_name="Gesine", last_name="Vertraulich", city="Berlin"
    )


def test_a_change_names_the_fields_never_the_values(organisation, admin_user, patient):
    patient_update(
        patient=patient, actor=admin_user, last_name="Geheimhaltung", notes="Bandscheibenvorfall"
    )

    event = only(organisation, Action.PATIENT_UPDATE)
    assert (event.actor, event.object_type, event.object_id, event.patient_id) == (
        admin_user,
        "patient",
        str(patient.public_id),
        patient.public_id,
    )
    assert event.detail == "Felder: last_name, notes"
    assert_no_trace(organisation, "Geheimhaltung", "Bandscheibenvorfall", "Vertraulich")


def test_a_change_that_changes_nothing_is_not_logged(organisation, admin_user, patient):
    patient_update(patient=patient, actor=admin_user, city="Berlin")
    assert entries(organisation) == []


def test_an_action_that_rolls_back_leaves_no_entry(organisation, admin_user, patient):
    with pytest.raises(RuntimeError), transaction.atomic():
        patient_update(patient=patient, actor=admin_user, city="Hamburg")
        assert entries(organisation, Action.PATIENT_UPDATE)  # written in the same transaction
        raise RuntimeError("after the change, before the commit")

    assert entries(organisation) == []


def test_create_archive_unarchive_and_delete(organisation, admin_user):
    patient = patient_create(
        organisation=organisation, actor=admin_user, first_name="Ida", last_name="Innig"
    )
    patient_archive(patient=patient, actor=admin_user)
    patient_archive(patient=patient, actor=admin_user)  # already archived: nothing happens
    patient_unarchive(patient=patient, actor=admin_user)
    patient_delete(patient=patient, actor=admin_user)

    assert [(e.action, e.actor, e.patient_id) for e in entries(organisation)] == [
        (action, admin_user, patient.public_id)
        for action in (
            Action.PATIENT_CREATE,
            Action.PATIENT_ARCHIVE,
            Action.PATIENT_UNARCHIVE,
            Action.PATIENT_DELETE,
        )
    ]
    assert_no_trace(organisation, "Ida", "Innig")


def test_the_nightly_erasure_is_logged_as_the_system(organisation, patient):
    Patient.objects.filter(pk=patient.pk).update(archived_at=timezone.now() - timedelta(days=1))

    assert patient_erase_expired() == 1

    event = only(organisation, Action.PATIENT_ERASE)
    assert (event.actor, event.actor_label, event.patient_id) == (None, SYSTEM, patient.public_id)
    assert not Patient.objects.filter(pk=patient.pk).exists()


BODY = {
    "doctolib_patient_id": "dl-7",
    "first_name": "Hedwig",
    "last_name": "Heimlich",
    "birth_date": "1950-05-06",
    "city": "Potsdam",
}


def test_the_bridges_changes_are_logged_as_the_system_with_their_source(
    plugin,  # noqa: F811
    organisation,
):
    created = plugin.post("/patients", BODY)
    plugin.put("/patients/dl-7", {"mobile_phone": "0171 7654321"})
    plugin.delete("/patients/dl-7")

    assert created.status_code == 201, created.content
    record = Patient.objects.get()
    changes = [e for e in entries(organisation) if e.object_type == "patient"]
    assert [(e.action, e.actor_label, e.patient_id, e.detail) for e in changes] == [
        (Action.PATIENT_CREATE, SYSTEM, record.public_id, "Doctolib-Sync"),
        (Action.PATIENT_UPDATE, SYSTEM, record.public_id, "Felder: mobile_phone (Doctolib-Sync)"),
        (Action.PATIENT_UNLINK, SYSTEM, record.public_id, "Doctolib-Patient dl-7 (Doctolib-Sync)"),
    ]
    assert_no_trace(organisation, "Hedwig", "Heimlich", "1950", "Potsdam", "7654321")


def test_linking_a_record_on_a_page_names_the_member(organisation, admin_user, patient):
    link_create(
        organisation=organisation,
        patient_id=patient.public_id,
        doctolib_patient_id="dl-9",
        actor=admin_user,
    )

    event = only(organisation, Action.PATIENT_LINK)
    assert (event.actor, event.detail) == (admin_user, "Doctolib-Patient dl-9")
