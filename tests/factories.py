from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from appointments.models import Appointment, AppointmentStatus, CalendarColumn
from billing.models import Invoice, InvoiceLine, InvoiceStatus, ServiceChain, ServiceLine
from billing.services import tax_category_for
from doctolib_bridge.models import SyncLogEntry
from organisations.models import Organisation, Plan, Role, User
from patients.models import Patient


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Praxis {n}")
    plan = Plan.XL
    owner_name = "Anna Beispiel"
    street = "Seestraße 1"
    postal_code = "12345"
    city = "Berlin"
    tax_number = "12/345/67890"
    iban = "DE89370400440532013000"
    bic = "COBADEFFXXX"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@praxis.test")
    organisation = factory.SubFactory(OrganisationFactory)
    role = Role.ADMIN
    password = factory.PostGenerationMethodCall("set_password", "geheim-123")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    organisation = factory.SubFactory(OrganisationFactory)
    first_name = factory.Sequence(lambda n: f"Vorname{n}")
    last_name = factory.Sequence(lambda n: f"Nachname{n}")
    birth_date = factory.Faker("date_of_birth", minimum_age=1, maximum_age=99)
    street = "Hauptstraße 5"
    postal_code = "10115"
    city = "Berlin"
    reminder_consent = True


class CalendarColumnFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CalendarColumn

    organisation = factory.SubFactory(OrganisationFactory)
    name = factory.Sequence(lambda n: f"Therapeut {n}")


class ServiceChainFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceChain
        skip_postgeneration_save = True  # the hook adds rows; the chain itself is saved

    organisation = factory.SubFactory(OrganisationFactory)
    description = factory.Sequence(lambda n: f"Behandlung {n}")
    notes = ""

    @factory.post_generation
    def services(obj, create, extracted, **kwargs):
        if not create:
            return
        specs = extracted or [("KG", "Krankengymnastik", Decimal("65.00"), Decimal("0.00"), 30)]
        for position, (code, name, price, vat, minutes) in enumerate(specs):
            ServiceLine.objects.create(
                chain=obj,
                position=position,
                code=code,
                name=name,
                price=price,
                vat_rate=vat,
                tax_category=tax_category_for(vat_rate=vat),
                minutes=minutes,
            )


class AppointmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Appointment

    organisation = factory.SubFactory(OrganisationFactory)
    patient = factory.SubFactory(
        PatientFactory, organisation=factory.SelfAttribute("..organisation")
    )
    calendar_column = factory.SubFactory(
        CalendarColumnFactory, organisation=factory.SelfAttribute("..organisation")
    )
    service_chain = factory.SubFactory(
        ServiceChainFactory, organisation=factory.SelfAttribute("..organisation")
    )
    start = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    duration_minutes = 30
    # What is past was treated, what is ahead is planned (as a practice's calendar is).
    status = factory.LazyAttribute(
        lambda o: AppointmentStatus.DONE if o.start <= timezone.now() else AppointmentStatus.PLANNED
    )


class SyncLogEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SyncLogEntry

    organisation = factory.SubFactory(OrganisationFactory)
    method = "PUT"
    endpoint = factory.Sequence(lambda n: f"/api/zipper/v1/appointments/dl-{n}")
    doctolib_appointment_id = factory.Sequence(lambda n: f"dl-{n}")
    status = 200
    outcome = "updated"


def invoice_over(
    appointment, status=InvoiceStatus.ISSUED, *, lock: bool = True, due_date=None
) -> Invoice:
    """An invoice of `status` over one appointment (one line), written as the
    services would leave it, in the order the database guard allows: the line goes
    on while it is a draft. `lock`: the appointment points to it (as for every
    invoice that is not cancelled)."""
    invoice = Invoice.objects.create(
        organisation=appointment.organisation,
        patient=appointment.patient,
        net_total="65.00",
        total="65.00",
        due_date=due_date,
    )
    InvoiceLine.objects.create(
        invoice=invoice,
        appointment=appointment,
        service_date=appointment.start.date(),
        code="KG",
        name="Krankengymnastik",
        unit_price="65.00",
        vat_rate="0.00",
        tax_category="exempt_therapy",
        amount="65.00",
    )
    if status != InvoiceStatus.DRAFT:
        number = f"2025-{Invoice.objects.exclude(number=None).count() + 1:04}"
        Invoice.objects.filter(pk=invoice.pk).update(status=status, number=number)
        invoice.refresh_from_db()
    if lock:
        appointment.invoice = invoice
        appointment.save(update_fields=["invoice"])
    return invoice


def doctolib_appointment(
    organisation, *, doctolib_patient_id: str, doctolib_appointment_id: str, **fields
) -> Appointment:
    """An appointment pushed from Doctolib for a linked patient, as a push leaves it."""
    patient = PatientFactory(
        organisation=organisation, sync_to_doctolib=True, doctolib_patient_id=doctolib_patient_id
    )
    fields.setdefault("service_chain_match", "description")
    return AppointmentFactory(
        organisation=organisation,
        patient=patient,
        source="doctolib",
        doctolib_appointment_id=doctolib_appointment_id,
        **fields,
    )
