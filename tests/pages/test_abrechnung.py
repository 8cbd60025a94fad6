"""Leistungsketten and Rechnungen pages through the Django test client: rights,
other organisations, bad input (German errors, nothing changed), query counts."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from appointments.models import AppointmentStatus
from billing import services
from billing.models import Invoice, InvoiceStatus, ServiceChain
from organisations.models import Role
from tests.factories import (
    AppointmentFactory,
    PatientFactory,
    ServiceChainFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

KG = [("X1501", "Krankengymnastik", Decimal("32.50"), Decimal("0.00"), 25)]


@pytest.fixture
def biller(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def clerk(client, organisation):
    """A member without the billing right."""
    client.force_login(UserFactory(organisation=organisation, role=Role.STAFF, can_billing=False))
    return client


def text(response) -> str:
    return response.content.decode()


def chain_data(description="Osteopathie", notes="", rows=(), initial=0, **extra):
    """The chain form's POST: `rows` are (code, name, price, vat, minutes[, delete])."""
    data = {
        "description": description,
        "notes": notes,
        "services-TOTAL_FORMS": str(len(rows)),
        "services-INITIAL_FORMS": str(initial),
        "services-MIN_NUM_FORMS": "0",
        "services-MAX_NUM_FORMS": "100",
    }
    for i, (code, name, price, vat, minutes, *delete) in enumerate(rows):
        data |= {
            f"services-{i}-code": code,
            f"services-{i}-name": name,
            f"services-{i}-price": price,
            f"services-{i}-vat_rate": vat,
            f"services-{i}-minutes": minutes,
        }
        if delete:
            data[f"services-{i}-DELETE"] = "on"
    return data | extra


def services_of(chain) -> list[tuple]:
    return [
        (s.code, s.name, s.price, s.vat_rate, s.minutes)
        for s in ServiceChain.objects.get(pk=chain.pk).services.all()
    ]


# Leistungsketten


def test_chain_list_shows_chains_in_constant_queries(
    biller, organisation, django_assert_max_num_queries
):
    ServiceChainFactory(organisation=organisation, description="Osteopathie", services=KG)
    with django_assert_max_num_queries(5):
        few = biller.get("/leistungsketten/")
    ServiceChainFactory.create_batch(60, organisation=organisation, services=KG * 3)
    with django_assert_max_num_queries(5):
        many = biller.get("/leistungsketten/")

    assert few.status_code == many.status_code == 200
    assert "Osteopathie" in text(few) and "32,50 €" in text(few)
    assert text(many).count("X1501 Krankengymnastik") == 1 + 60 * 3
    assert "So werden Doctolib-Besuchsgründe zugeordnet" in text(few)


def test_chain_list_is_read_only_without_billing_right(clerk, organisation):
    chain = ServiceChainFactory(organisation=organisation, description="Osteopathie")

    response = clerk.get("/leistungsketten/")

    assert response.status_code == 200
    assert "Osteopathie" in text(response)
    assert f"/leistungsketten/{chain.public_id}/" not in text(response)
    assert "Neue Leistungskette" not in text(response)
    assert clerk.get(f"/leistungsketten/{chain.public_id}/").status_code == 403
    response = clerk.post("/leistungsketten/neu/", chain_data(rows=[("", "KG", "1", "0", "0")]))
    assert response.status_code == 403
    assert ServiceChain.objects.count() == 1


def test_create_chain_with_german_numbers(biller, organisation):
    response = biller.post(
        "/leistungsketten/neu/",
        chain_data(
            description=" Osteopathie ",
            notes="#Osteopathie privat",
            rows=[
                ("X1501", "Krankengymnastik", "32,50", "0", "25"),
                ("W1", "Massageöl", "8,40", "19", ""),
                ("", "", "", "0", "0"),  # the empty new row is left out
            ],
        ),
    )

    chain = ServiceChain.objects.get(organisation=organisation)
    assert response.status_code == 302
    assert response["Location"] == f"/leistungsketten/{chain.public_id}/"
    assert (chain.description, chain.notes) == ("Osteopathie", "#Osteopathie privat")
    assert services_of(chain) == [
        ("X1501", "Krankengymnastik", Decimal("32.50"), Decimal("0.00"), 25),
        ("W1", "Massageöl", Decimal("8.40"), Decimal("19.00"), 0),
    ]
    page = text(biller.get(response["Location"]))
    assert 'value="32,50"' in page and "Die Leistungskette „Osteopathie“ wurde angelegt." in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (chain_data(description="", rows=[("", "KG", "1", "0", "0")]), "Dieses Feld ist zwingend"),
        (chain_data(rows=[("", "", "12", "0", "0")]), "Dieses Feld ist zwingend"),
        (chain_data(rows=[("", "KG", "-1", "0", "0")]), "größer oder gleich 0"),
        (chain_data(rows=[("", "KG", "zwölf", "0", "0")]), "Bitte eine Zahl eingeben"),
        (chain_data(rows=[("", "KG", "1", "100", "0")]), "Höchstens 99,99 %."),
        (chain_data(rows=[("", "KG", "1", "0", "2000")]), "kleiner oder gleich 1440"),
        (chain_data(rows=[]), "Die Leistungskette braucht mindestens eine Leistung."),
        (chain_data(rows=[("", "KG", "1", "0", "0", "x")]), "mindestens eine Leistung"),
        ({"description": "Ohne Formularverwaltung"}, "mindestens eine Leistung"),
    ],
)
def test_create_chain_refuses_bad_input_in_german(biller, data, message):
    response = biller.post("/leistungsketten/neu/", data)

    assert response.status_code == 422
    assert message in text(response)
    assert not ServiceChain.objects.exists()


def test_edit_replaces_the_services(biller, organisation):
    chain = ServiceChainFactory(
        organisation=organisation,
        description="Massage",
        services=[*KG, ("W1", "Massageöl", Decimal("8.40"), Decimal("19.00"), 0)],
    )
    page = text(biller.get(f"/leistungsketten/{chain.public_id}/"))
    assert 'value="Krankengymnastik"' in page and 'value="8,40"' in page

    response = biller.post(
        f"/leistungsketten/{chain.public_id}/",
        chain_data(
            description="Massage",
            initial=2,
            rows=[
                ("X1501", "Krankengymnastik", "35,00", "0", "30"),
                ("W1", "Massageöl", "8,40", "19", "0", "x"),
                ("X0106", "Wärmepackung", "12", "0", "10"),
            ],
        ),
    )

    assert response.status_code == 302
    assert services_of(chain) == [
        ("X1501", "Krankengymnastik", Decimal("35.00"), Decimal("0.00"), 30),
        ("X0106", "Wärmepackung", Decimal("12.00"), Decimal("0.00"), 10),
    ]


def test_add_row_without_javascript_saves_nothing(biller, organisation):
    chain = ServiceChainFactory(organisation=organisation, description="Massage", services=KG)

    response = biller.post(
        f"/leistungsketten/{chain.public_id}/",
        chain_data(
            description="Neu",
            initial=1,
            rows=[("X1501", "Krankengymnastik", "40", "0", "25")],
            add_row="1",
        ),
    )

    assert response.status_code == 200
    assert 'name="services-1-name"' in text(response)
    assert 'value="Neu"' in text(response)
    chain.refresh_from_db()
    assert chain.description == "Massage"
    assert services_of(chain)[0][2] == Decimal("32.50")


def test_other_organisations_chain_is_404_and_unchanged(biller, other_organisation):
    chain = ServiceChainFactory(organisation=other_organisation, description="Fremd", services=KG)
    url = f"/leistungsketten/{chain.public_id}/"

    assert biller.get(url).status_code == 404
    data = chain_data(description="Übernommen", rows=[("", "KG", "1", "0", "0")])
    assert biller.post(url, data).status_code == 404
    assert biller.post(url + "loeschen/").status_code == 404
    assert biller.get("/leistungsketten/kein-uuid/").status_code == 404
    chain.refresh_from_db()
    assert chain.description == "Fremd"
    assert len(services_of(chain)) == 1


def test_deleting_a_chain_in_use_is_refused_in_german(biller, organisation):
    chain = ServiceChainFactory(organisation=organisation, description="Osteopathie")
    AppointmentFactory(organisation=organisation, service_chain=chain)

    confirm = biller.get(f"/leistungsketten/{chain.public_id}/loeschen/")
    response = biller.post(f"/leistungsketten/{chain.public_id}/loeschen/", follow=True)

    assert "Leistungskette löschen?" in text(confirm)
    assert "wird von Terminen verwendet und kann nicht gelöscht werden" in text(response)
    assert ServiceChain.objects.filter(pk=chain.pk).exists()


def test_deleting_an_unused_chain(biller, organisation):
    chain = ServiceChainFactory(organisation=organisation, description="Alt")

    response = biller.post(f"/leistungsketten/{chain.public_id}/loeschen/", follow=True)

    assert "Die Leistungskette „Alt“ wurde gelöscht." in text(response)
    assert not ServiceChain.objects.filter(pk=chain.pk).exists()


# Rechnungen


@pytest.fixture
def patient(organisation):
    return PatientFactory(organisation=organisation, first_name="Erika", last_name="Muster")


@pytest.fixture
def chain(organisation):
    return ServiceChainFactory(organisation=organisation, description="Osteopathie", services=KG)


def past(days: int):
    return timezone.now() - timedelta(days=days)


def book(organisation, patient, chain, *, days=1, **fields):
    return AppointmentFactory(
        organisation=organisation,
        patient=patient,
        service_chain=chain,
        start=past(days),
        **fields,
    )


def draft_for(organisation, actor, patient, chain, count=1):
    booked = [book(organisation, patient, chain, days=d + 1) for d in range(count)]
    return services.invoice_create(
        organisation=organisation, actor=actor, patient=patient, appointments=booked
    )


@pytest.mark.parametrize(
    "url",
    [
        "/rechnungen/",
        "/rechnungen/neu/",
        "/rechnungen/{id}/",
        "/rechnungen/{id}/pdf/",
        "/rechnungen/{id}/storno-pdf/",
    ],
)
def test_invoice_pages_need_the_billing_right(clerk, organisation, admin_user, patient, chain, url):
    invoice = draft_for(organisation, admin_user, patient, chain)

    response = clerk.get(url.format(id=invoice.public_id))

    assert response.status_code == 403


@pytest.mark.parametrize("action", ["stellen", "bezahlt", "stornieren"])
def test_invoice_actions_need_the_billing_right(
    clerk, organisation, admin_user, patient, chain, action
):
    invoice = draft_for(organisation, admin_user, patient, chain)

    response = clerk.post(f"/rechnungen/{invoice.public_id}/{action}/")

    assert response.status_code == 403
    invoice.refresh_from_db()
    assert (invoice.status, invoice.number) == (InvoiceStatus.DRAFT, None)


def test_anonymous_goes_to_login(client):
    response = client.get("/rechnungen/")
    assert response.status_code == 302
    assert response["Location"].startswith("/anmelden/")


def test_invoice_list_filters_by_status_in_constant_queries(
    biller, organisation, admin_user, patient, chain, django_assert_max_num_queries
):
    issued = services.invoice_issue(
        invoice=draft_for(organisation, admin_user, patient, chain), actor=admin_user
    )
    draft = draft_for(organisation, admin_user, patient, chain)
    with django_assert_max_num_queries(5):
        few = biller.get("/rechnungen/")
    for _ in range(60):
        draft_for(organisation, admin_user, PatientFactory(organisation=organisation), chain)
    with django_assert_max_num_queries(5):
        many = biller.get("/rechnungen/")

    assert issued.number in text(few)
    assert "Muster, Erika" in text(few)
    assert f"/rechnungen/{draft.public_id}/" in text(few)
    assert text(many).count("/rechnungen/") > 50
    filtered = text(biller.get("/rechnungen/", {"status": "issued"}))
    assert issued.number in filtered
    assert f"/rechnungen/{draft.public_id}/" not in filtered
    assert biller.get("/rechnungen/", {"status": "quatsch", "seite": "x"}).status_code == 200


def test_create_page_lists_exactly_the_billable_appointments(
    biller, organisation, admin_user, patient, chain
):
    organisation.no_show_fee = Decimal("30.00")
    organisation.save()
    empty = ServiceChainFactory(organisation=organisation)
    empty.services.all().delete()
    billable = book(organisation, patient, chain, days=2, status=AppointmentStatus.NO_SHOW)
    today = book(organisation, patient, chain, days=0, status=AppointmentStatus.DONE)
    hidden = [
        book(organisation, patient, chain, days=-1),  # future
        book(organisation, patient, chain, status=AppointmentStatus.PLANNED),  # not yet done
        book(organisation, patient, chain, status=AppointmentStatus.CANCELLED),
        book(organisation, patient, None),
        book(organisation, patient, empty),
        book(organisation, PatientFactory(organisation=organisation), chain),
    ]
    hidden += draft_for(organisation, admin_user, patient, chain).locked_appointments.all()

    page = text(biller.get("/rechnungen/neu/", {"patient": str(patient.public_id)}))

    assert "Neue Rechnung für Erika Muster" in page
    assert str(billable.public_id) in page and str(today.public_id) in page
    for appointment in hidden:
        assert str(appointment.public_id) not in page


def test_create_draft_invoice_from_ticked_appointments(
    biller, organisation, admin_user, patient, chain
):
    first, second, _left = (book(organisation, patient, chain, days=d) for d in (3, 2, 1))

    response = biller.post(
        f"/rechnungen/neu/?patient={patient.public_id}",
        {"appointments": [str(first.public_id), str(second.public_id)], "diagnosis": " M54.5 "},
    )

    invoice = Invoice.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/rechnungen/{invoice.public_id}/"
    assert (invoice.status, invoice.patient, invoice.diagnosis) == ("draft", patient, "M54.5")
    assert set(invoice.locked_appointments.all()) == {first, second}
    assert invoice.created_by == admin_user


def test_create_without_ticked_appointment_says_so(biller, organisation, patient, chain):
    book(organisation, patient, chain)

    response = biller.post(f"/rechnungen/neu/?patient={patient.public_id}", {"diagnosis": "x"})

    assert response.status_code == 422
    assert "Bitte wählen Sie mindestens einen Termin." in text(response)
    assert not Invoice.objects.exists()


def test_refusal_reasons_stand_next_to_the_appointments(
    biller, organisation, admin_user, patient, chain
):
    """The page was shown; meanwhile one appointment went on another invoice."""
    taken, free = book(organisation, patient, chain, days=2), book(organisation, patient, chain)
    services.invoice_create(
        organisation=organisation, actor=admin_user, patient=patient, appointments=[taken]
    )

    response = biller.post(
        f"/rechnungen/neu/?patient={patient.public_id}",
        {"appointments": [str(taken.public_id), str(free.public_id)]},
    )

    page = text(response)
    assert response.status_code == 422
    assert "Nicht alle Termine können abgerechnet werden." in page
    row = page[page.index(f'value="{taken.public_id}"') :]
    row = row[: row.index("</tr>")]
    assert "Dieser Termin steht schon auf einer Rechnung." in row
    assert Invoice.objects.count() == 1
    free.refresh_from_db()
    assert free.invoice is None


def test_create_refuses_other_organisations_patient_and_appointments(
    biller, organisation, other_organisation, patient, chain
):
    foreign_patient = PatientFactory(organisation=other_organisation)
    foreign = AppointmentFactory(organisation=other_organisation, start=past(1))
    url = f"/rechnungen/neu/?patient={foreign_patient.public_id}"

    assert biller.get(url).status_code == 404
    assert biller.post(url, {"appointments": [str(foreign.public_id)]}).status_code == 404
    assert biller.get("/rechnungen/neu/?patient=123").status_code == 404
    response = biller.post(
        f"/rechnungen/neu/?patient={patient.public_id}",
        {"appointments": [str(foreign.public_id), "kein-uuid"]},
    )
    assert response.status_code == 422
    assert "Unbekannter Termin: kein-uuid" in text(response)
    response = biller.post(
        f"/rechnungen/neu/?patient={patient.public_id}",
        {"appointments": [str(foreign.public_id)]},
    )
    assert response.status_code == 422
    assert "Termin nicht gefunden." in text(response)
    assert not Invoice.objects.exists()
    foreign.refresh_from_db()
    assert foreign.invoice is None


def test_create_page_without_patient_searches_records(biller, organisation, patient):
    PatientFactory(organisation=organisation, last_name="Schmidt")

    page = text(biller.get("/rechnungen/neu/", {"q": "must"}))

    assert f"/rechnungen/neu/?patient={patient.public_id}" in page
    assert "Schmidt" not in page


def test_create_page_queries_do_not_grow_with_appointments(
    biller, organisation, patient, chain, django_assert_max_num_queries
):
    book(organisation, patient, chain)
    url = f"/rechnungen/neu/?patient={patient.public_id}"
    with django_assert_max_num_queries(5):
        biller.get(url)
    for days in range(2, 60):
        book(organisation, patient, ServiceChainFactory(organisation=organisation), days=days)
    with django_assert_max_num_queries(5):
        page = text(biller.get(url))
    assert page.count('name="appointments"') == 59


def test_issue_pay_and_cancel(biller, organisation, admin_user, patient, chain):
    invoice = draft_for(organisation, admin_user, patient, chain)
    url = f"/rechnungen/{invoice.public_id}/"
    draft_page = text(biller.get(url))
    assert "Rechnung stellen" in draft_page and "Entwurf verwerfen" in draft_page
    assert "Als bezahlt markieren" not in draft_page

    issued = text(biller.post(url + "stellen/", follow=True))
    invoice.refresh_from_db()
    assert invoice.number and invoice.status == InvoiceStatus.ISSUED
    assert f"Die Rechnung {invoice.number} wurde gestellt." in issued
    assert "Als bezahlt markieren" in issued and "Stornieren" in issued

    again = text(biller.post(url + "stellen/", follow=True))
    assert "Die Rechnung ist gestellt; sie kann nicht gestellt werden." in again

    paid = text(biller.post(url + "bezahlt/", follow=True))
    assert "ist als bezahlt markiert" in paid
    confirm = text(biller.get(url + "stornieren/"))
    assert f"Rechnung {invoice.number} stornieren?" in confirm
    assert "eine Stornorechnung mit eigener Nummer" in confirm
    cancelled = text(biller.post(url + "stornieren/", follow=True))
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.CANCELLED
    assert "wurde storniert" in cancelled
    assert f"(Stornorechnung {invoice.cancellation_number})" in cancelled
    assert "Stornieren" not in cancelled.split("</header>")[1].replace("wurde storniert", "")


def test_discarding_a_draft_frees_its_appointments(
    biller, organisation, admin_user, patient, chain
):
    invoice = draft_for(organisation, admin_user, patient, chain)
    appointment = invoice.locked_appointments.get()

    confirm = text(biller.get(f"/rechnungen/{invoice.public_id}/stornieren/"))
    done = text(biller.post(f"/rechnungen/{invoice.public_id}/stornieren/", follow=True))

    assert "Entwurf verwerfen?" in confirm
    assert "Der Entwurf wurde verworfen" in done
    appointment.refresh_from_db()
    assert appointment.invoice is None


def test_paying_a_draft_is_refused_in_german(biller, organisation, admin_user, patient, chain):
    invoice = draft_for(organisation, admin_user, patient, chain)

    page = text(biller.post(f"/rechnungen/{invoice.public_id}/bezahlt/", follow=True))

    assert "Die Rechnung ist ein Entwurf; es ist nichts offen, das bezahlt werden könnte." in page
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.DRAFT


def test_other_organisations_invoice_is_404_and_unchanged(
    biller, other_organisation, patient, chain
):
    actor = UserFactory(organisation=other_organisation)
    other_chain = ServiceChainFactory(organisation=other_organisation)
    invoice = draft_for(
        other_organisation, actor, PatientFactory(organisation=other_organisation), other_chain
    )
    url = f"/rechnungen/{invoice.public_id}/"

    for path in ("", "pdf/", "storno-pdf/", "stornieren/"):
        assert biller.get(url + path).status_code == 404
    for path in ("stellen/", "bezahlt/", "stornieren/"):
        assert biller.post(url + path).status_code == 404
    invoice.refresh_from_db()
    assert (invoice.status, invoice.number) == (InvoiceStatus.DRAFT, None)


def test_pdf_download(biller, organisation, admin_user, patient, chain):
    invoice = services.invoice_issue(
        invoice=draft_for(organisation, admin_user, patient, chain), actor=admin_user
    )

    response = biller.get(f"/rechnungen/{invoice.public_id}/pdf/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="Rechnung-{invoice.number}.pdf"'
    )
    assert response.content.startswith(b"%PDF")


def test_cancelled_invoice_page_shows_the_storno_number_and_its_pdf(
    biller, organisation, admin_user, patient, chain
):
    invoice = services.invoice_issue(
        invoice=draft_for(organisation, admin_user, patient, chain), actor=admin_user
    )
    url = f"/rechnungen/{invoice.public_id}/"
    before = text(biller.get(url))

    cancelled = services.invoice_cancel(invoice=invoice, actor=admin_user)
    page = text(biller.get(url))
    response = biller.get(url + "storno-pdf/")

    assert "Storno-Nr." not in before and "storno-pdf/" not in before
    day = cancelled.cancellation_date.strftime("%d.%m.%Y")
    assert f"<dt>Storno-Nr.</dt><dd>{cancelled.cancellation_number} vom {day}</dd>" in page
    assert f'href="{url}storno-pdf/" download>Stornorechnung herunterladen</a>' in page
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="Storno-{cancelled.cancellation_number}.pdf"'
    )
    assert response.content.startswith(b"%PDF")


@pytest.mark.parametrize("state", ["draft", "issued", "discarded"])
def test_storno_pdf_of_an_invoice_without_one_is_404(
    biller, organisation, admin_user, patient, chain, state
):
    invoice = draft_for(organisation, admin_user, patient, chain)
    if state == "issued":
        services.invoice_issue(invoice=invoice, actor=admin_user)
    if state == "discarded":
        services.invoice_cancel(invoice=invoice, actor=admin_user)
    url = f"/rechnungen/{invoice.public_id}/"

    assert biller.get(url + "storno-pdf/").status_code == 404
    assert "Stornorechnung herunterladen" not in text(biller.get(url))


def test_invoice_page_shows_lines_and_totals_in_constant_queries(
    biller, organisation, admin_user, patient, django_assert_max_num_queries
):
    mixed = ServiceChainFactory(
        organisation=organisation,
        services=[*KG, ("W1", "Massageöl", Decimal("8.40"), Decimal("19.00"), 0)],
    )
    small = draft_for(organisation, admin_user, patient, mixed)
    large = draft_for(organisation, admin_user, patient, mixed, count=30)

    with django_assert_max_num_queries(8):  # with the payments and dunning notices
        page = text(biller.get(f"/rechnungen/{small.public_id}/"))
    with django_assert_max_num_queries(8):
        biller.get(f"/rechnungen/{large.public_id}/")

    for fact in ("Krankengymnastik", "40,90 €", "USt 19 % auf 8,40 €", "1,60 €", "42,50 €"):
        assert fact in page


def test_chain_page_queries_do_not_grow_with_services(
    biller, organisation, django_assert_max_num_queries
):
    small = ServiceChainFactory(organisation=organisation, services=KG)
    large = ServiceChainFactory(organisation=organisation, services=KG * 80)

    with django_assert_max_num_queries(5):
        biller.get(f"/leistungsketten/{small.public_id}/")
    with django_assert_max_num_queries(5):
        page = text(biller.get(f"/leistungsketten/{large.public_id}/"))
    assert 'name="services-79-name"' in page


def test_an_archived_record_is_not_billed_and_the_page_says_why(
    biller, organisation, admin_user, patient, chain
):
    from patients.services import patient_archive

    done = book(organisation, patient, chain, days=2)
    patient_archive(patient=patient, actor=admin_user)

    response = biller.post(
        f"/rechnungen/neu/?patient={patient.public_id}", {"appointments": [str(done.public_id)]}
    )

    assert response.status_code == 409
    assert "Die Akte ist archiviert" in text(response)
    assert not Invoice.objects.exists()
