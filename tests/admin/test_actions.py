import pytest

from appointments.models import CalendarColumn
from billing.models import Invoice
from billing.services import invoice_cancel, invoice_create, invoice_issue
from organisations.models import Organisation, Role, User
from patients.models import Patient
from tests.admin.conftest import url
from tests.factories import (
    AppointmentFactory,
    CalendarColumnFactory,
    PatientFactory,
    UserFactory,
)
from tokens.models import Token, TokenKind
from tokens.services import token_authenticate, token_create

pytestmark = pytest.mark.django_db


def patient_form(patient: Patient, **changes) -> dict:
    data = {
        "salutation": patient.salutation,
        "title": patient.title,
        "first_name": patient.first_name,
        "last_name": patient.last_name,
        "birth_date": patient.birth_date.isoformat() if patient.birth_date else "",
        "email": patient.email,
        "mobile_phone": patient.mobile_phone,
        "landline_phone": patient.landline_phone,
        "street": patient.street,
        "postal_code": patient.postal_code,
        "city": patient.city,
        "notes": patient.notes,
        **({"sync_to_doctolib": "on"} if patient.sync_to_doctolib else {}),
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_token_pages_never_show_the_hash(support, admin_user, organisation):
    token, raw = token_create(organisation=organisation, kind=TokenKind.API, user=admin_user)

    pages = [support.get(url(Token, "changelist")), support.get(url(Token, "change", token.pk))]

    for page in pages:
        assert page.status_code == 200
        assert token.display_prefix in page.content.decode()
        assert token.token_hash not in page.content.decode()
        assert raw not in page.content.decode()


def test_revoke_action_revokes_only_the_chosen_tokens(support, admin_user, organisation):
    chosen, chosen_raw = token_create(organisation=organisation, kind=TokenKind.DOCTOLIB)
    _, kept_raw = token_create(organisation=organisation, kind=TokenKind.API, user=admin_user)

    response = support.post(
        url(Token, "changelist"), {"action": "revoke", "_selected_action": [chosen.pk]}
    )

    assert response.status_code == 302
    assert Token.objects.get(pk=chosen.pk).revoked_at is not None
    assert token_authenticate(raw=chosen_raw, kind=TokenKind.DOCTOLIB) is None
    assert token_authenticate(raw=kept_raw, kind=TokenKind.API) is not None


def test_tokens_cannot_be_added_or_changed(support, admin_user, organisation):
    token, _ = token_create(organisation=organisation, kind=TokenKind.API, user=admin_user)

    assert support.get(url(Token, "add")).status_code == 403
    response = support.post(url(Token, "change", token.pk), {"name": "anders"})

    assert response.status_code == 403
    assert Token.objects.get(pk=token.pk).name == ""


def _issued_invoice(organisation, actor) -> Invoice:
    appointment = AppointmentFactory(organisation=organisation)
    return invoice_issue(
        invoice=invoice_create(
            organisation=organisation,
            actor=actor,
            patient=appointment.patient,
            appointments=[appointment],
        ),
        actor=actor,
    )


def test_invoices_are_read_only_and_never_deleted(support, admin_user, organisation):
    invoice = _issued_invoice(organisation, admin_user)

    page = support.get(url(Invoice, "change", invoice.pk))
    delete = support.post(url(Invoice, "delete", invoice.pk), {"post": "yes"})
    bulk_delete = support.post(
        url(Invoice, "changelist"), {"action": "delete_selected", "_selected_action": [invoice.pk]}
    )

    assert page.status_code == 200
    assert invoice.number in page.content.decode()
    assert 'name="_save"' not in page.content.decode()
    assert delete.status_code == 403
    assert bulk_delete.status_code in (200, 302)
    assert Invoice.objects.filter(pk=invoice.pk, status="issued").exists()


def test_storno_number_and_date_are_shown_read_only(support, admin_user, organisation):
    invoice = invoice_cancel(invoice=_issued_invoice(organisation, admin_user), actor=admin_user)

    page = support.get(url(Invoice, "change", invoice.pk)).content.decode()
    listed = support.get(url(Invoice, "changelist"), {"q": invoice.cancellation_number})

    assert "Storno-Nr." in page and "Stornodatum" in page
    assert invoice.cancellation_number in page
    assert 'name="cancellation_number"' not in page and 'name="_save"' not in page
    assert listed.context["cl"].result_count == 1


def test_patient_correction_goes_through_the_service(support, organisation):
    patient = PatientFactory(organisation=organisation, last_name="Meier")

    response = support.post(
        url(Patient, "change", patient.pk),
        patient_form(patient, last_name=" Maier ", mobile_phone="0171 1234567"),
    )

    assert response.status_code == 302, response.content
    patient.refresh_from_db()
    assert patient.last_name == "Maier"
    assert patient.last_name_folded == "maier"
    assert patient.mobile_phone == "+491711234567"
    latest = patient.history.first()
    assert latest.history_user.email == "support@lemniscus.test"
    assert latest.history_type == "~"


def test_patient_bad_phone_is_a_form_error(support, organisation):
    patient = PatientFactory(organisation=organisation, mobile_phone="")

    response = support.post(
        url(Patient, "change", patient.pk), patient_form(patient, mobile_phone="abc")
    )

    assert response.status_code == 200
    assert "mobile_phone" in response.context["adminform"].form.errors
    patient.refresh_from_db()
    assert patient.mobile_phone == ""
    assert patient.history.count() == 1


def test_linked_patient_keeps_its_doctolib_checkbox(support, organisation):
    patient = PatientFactory(
        organisation=organisation, sync_to_doctolib=True, doctolib_patient_id="dl-1"
    )
    data = patient_form(patient, city="Potsdam")
    del data["sync_to_doctolib"]

    response = support.post(url(Patient, "change", patient.pk), data)

    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.city == "Potsdam"
    assert patient.sync_to_doctolib is True


def test_patients_are_not_added_or_deleted_in_the_admin(support, organisation):
    patient = PatientFactory(organisation=organisation)

    assert support.get(url(Patient, "add")).status_code == 403
    assert support.post(url(Patient, "delete", patient.pk), {"post": "yes"}).status_code == 403
    assert Patient.objects.filter(pk=patient.pk).exists()


def test_organisations_are_created_by_the_command_only(support, organisation):
    assert support.get(url(Organisation, "add")).status_code == 403
    response = support.post(url(Organisation, "delete", organisation.pk), {"post": "yes"})

    assert response.status_code == 403
    assert Organisation.objects.filter(pk=organisation.pk).exists()


def test_support_adds_a_user_who_logs_in_with_the_email(support, client, organisation):
    response = support.post(
        url(User, "add"),
        {
            "email": "Neu@Praxis.TEST",
            "organisation": organisation.pk,
            "role": Role.STAFF,
            "usable_password": "true",
            "password1": "lang-genug-42",
            "password2": "lang-genug-42",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    user = User.objects.get(email="neu@praxis.test")
    assert user.organisation == organisation
    assert user.role == Role.STAFF
    client.logout()
    assert client.login(email="neu@praxis.test", password="lang-genug-42")


def test_user_email_must_be_new_whatever_its_case(support, organisation):
    UserFactory(organisation=organisation, email="da@praxis.test")

    response = support.post(
        url(User, "add"),
        {
            "email": "DA@praxis.test",
            "organisation": organisation.pk,
            "role": Role.STAFF,
            "usable_password": "true",
            "password1": "lang-genug-42",
            "password2": "lang-genug-42",
        },
    )

    assert response.status_code == 200
    assert "email" in response.context["adminform"].form.errors
    assert User.objects.filter(email__iexact="da@praxis.test").count() == 1


def test_calendar_column_agenda_stays_unique_per_organisation(
    support, organisation, other_organisation
):
    CalendarColumnFactory(organisation=organisation, doctolib_agenda_id="agenda-1")
    CalendarColumnFactory(organisation=other_organisation, doctolib_agenda_id="agenda-2")
    column = CalendarColumnFactory(organisation=organisation, name="Raum 2")

    taken = support.post(
        url(CalendarColumn, "change", column.pk),
        {"name": "Raum 2", "kind": "room", "doctolib_agenda_id": "agenda-1"},
    )
    free = support.post(
        url(CalendarColumn, "change", column.pk),
        {"name": "Bewegungsbad", "kind": "room", "doctolib_agenda_id": "agenda-2"},
    )

    assert taken.status_code == 200
    assert "doctolib_agenda_id" in taken.context["adminform"].form.errors
    assert free.status_code == 302
    column.refresh_from_db()
    assert (column.name, column.kind, column.doctolib_agenda_id) == (
        "Bewegungsbad",
        "room",
        "agenda-2",
    )
