"""A demo organisation with realistic German practice data (`manage.py seed_demo`).

Every run makes a fresh organisation with its own login, so re-running never
collides with an earlier demo. Patients and appointments are written with bulk
inserts in batches (history rows too), so memory stays flat and 100,000 patients
take well under two minutes on PostgreSQL; the few columns, service chains and
invoices go through the services like any other entry point.
"""

import random
import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from itertools import islice

from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.utils import timezone
from weasyprint import HTML

from appointments.models import Appointment, AppointmentStatus, ColumnKind
from appointments.series import OnConflict, series_create
from appointments.services import calendar_column_create
from audit.services import actor_label
from billing.models import PaymentMethod
from billing.payments import payment_record
from billing.services import invoice_create, invoice_issue, invoice_pay, service_chain_create
from documentation.models import DocumentationCorrection, DocumentationEntry
from documentation.services import attachment_create, finalises_at
from lemniscus.errors import DomainError
from lemniscus.text import fold
from organisations.models import Organisation, Plan, User
from organisations.services import organisation_create, organisation_update_practice
from patients.models import Patient, Salutation

BATCH_SIZE = 2000
APPOINTMENTS_PER_PATIENT = 3
INVOICE_EVERY_NTH_PATIENT = 5
MAX_INVOICES = 200
HISTORY_REASON = "Demo-Daten"

FEMALE_FIRST_NAMES = (
    "Anna", "Emma", "Mia", "Hannah", "Sophie", "Lena", "Lea", "Marie", "Laura", "Julia",
    "Katharina", "Sabine", "Petra", "Monika", "Ursula", "Renate", "Gisela", "Ingrid",
    "Brigitte", "Claudia", "Stefanie", "Nicole", "Andrea", "Birgit", "Käthe", "Jana",
    "Zoë", "Charlotte", "Johanna", "Frieda", "Elke", "Heike", "Anja", "Susanne", "Dörte",
)  # fmt: skip
MALE_FIRST_NAMES = (
    "Lukas", "Leon", "Finn", "Jonas", "Paul", "Felix", "Maximilian", "Elias", "Noah",
    "Thomas", "Michael", "Andreas", "Stefan", "Peter", "Klaus", "Wolfgang", "Jürgen",
    "Jörg", "Sören", "Björn", "Uwe", "Dieter", "Günter", "Horst", "Matthias", "Tobias",
    "Florian", "Sebastian", "Christian", "Frank", "Ralf", "Bernd", "Karl-Heinz", "Till",
)  # fmt: skip
LAST_NAMES = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
    "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf",
    "Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann",
    "Hartmann", "Lange", "Schmitt", "Werner", "Schmitz", "Krause", "Meier", "Lehmann",
    "Schmid", "Schulze", "Maier", "Köhler", "Herrmann", "König", "Walter", "Mayer",
    "Huber", "Kaiser", "Fuchs", "Peters", "Lang", "Scholz", "Möller", "Weiß", "Jung",
    "Hahn", "Schubert", "Vogel", "Friedrich", "Keller", "Günther", "Frank", "Berger",
    "Winkler", "Roth", "Beck", "Lorenz", "Baumann", "Franke", "Albrecht", "Schuster",
    "Simon", "Ludwig", "Böhm", "Winter", "Kraus", "Martin", "Schumacher", "Krämer",
    "Vogt", "Stein", "Jäger", "Otto", "Sommer", "Groß", "Seidel", "Heinrich", "Brandt",
    "Haas", "Schreiber", "Graf", "Schulte", "Dietrich", "Ziegler", "Kuhn", "Kühn",
    "von Bülow", "Özdemir", "Yilmaz", "Nowak", "Kowalski", "Popescu", "Nguyen",
)  # fmt: skip
STREETS = (
    "Hauptstraße", "Bahnhofstraße", "Gartenweg", "Lindenallee", "Schillerstraße",
    "Goethestraße", "Am Markt", "Kastanienallee", "Friedrichstraße", "Birkenweg",
    "Rosenstraße", "Mühlenweg", "Bergmannstraße", "Schönhauser Allee", "Karl-Marx-Straße",
    "Kantstraße", "Sonnenallee", "Prenzlauer Allee", "Am Park", "Parkstraße",
    "Kirchstraße", "Waldstraße", "Dorfstraße", "Lessingstraße", "Ringstraße",
)  # fmt: skip
PLACES = (
    ("10115", "Berlin"), ("10243", "Berlin"), ("10405", "Berlin"), ("10437", "Berlin"),
    ("10553", "Berlin"), ("10623", "Berlin"), ("10781", "Berlin"), ("10965", "Berlin"),
    ("12043", "Berlin"), ("12159", "Berlin"), ("12435", "Berlin"), ("13187", "Berlin"),
    ("13353", "Berlin"), ("14057", "Berlin"), ("14467", "Potsdam"), ("14612", "Falkensee"),
    ("15366", "Hoppegarten"), ("16515", "Oranienburg"), ("15732", "Schulzendorf"),
)  # fmt: skip
MOBILE_PREFIXES = ("151", "152", "157", "160", "162", "170", "171", "172", "173", "176", "179")
LANDLINE_PREFIXES = ("30", "331", "3322", "3342", "3301")
HOUSE_SUFFIXES = ("",) * 8 + ("a", "b")
EMAIL_DOMAINS = ("example.org", "example.com", "example.net")

PRACTICE = {
    "owner_name": "Anna Schneider",
    "street": "Am Park 12",
    "postal_code": "10437",
    "city": "Berlin",
    "phone": "+49304412345",
    "email": "praxis@example.org",
    "tax_number": "27/412/31008",
    "iban": "DE89370400440532013000",
    "bic": "COBADEFFXXX",
    "bank_account_holder": "Anna Schneider",
    # Long days Monday to Thursday with a lunch break, a short Friday, Saturday
    # mornings: the calendar shades the rest and shows Saturday, not Sunday.
    "opening_hours": {
        **{day: [["07:30", "12:30"], ["13:30", "19:00"]] for day in ("mon", "tue", "wed", "thu")},
        "fri": [["07:30", "15:00"]],
        "sat": [["09:00", "13:00"]],
        "sun": [],
    },
}
COLUMNS = (
    ("Anna Schneider", ColumnKind.THERAPIST, "#1f6f8b"),
    ("Jonas Weber", ColumnKind.THERAPIST, "#7a4fa3"),
    ("Lea Hoffmann", ColumnKind.THERAPIST, "#1e6b3f"),
    ("Mehmet Yilmaz", ColumnKind.THERAPIST, "#a34f1f"),
    ("Sophie Krüger", ColumnKind.THERAPIST, "#b0306a"),
    ("Raum 1 (Massage)", ColumnKind.ROOM, "#5b6573"),
    ("Bewegungsbad", ColumnKind.ROOM, "#0a5ea8"),
)
SERIES = 12  # prescriptions of 6 to 10 weekly sessions, from tomorrow on
ZERO, NINETEEN = Decimal("0.00"), Decimal("19.00")
NO_SHOW_FEE = Decimal("30.00")
BILLABLE = (AppointmentStatus.DONE, AppointmentStatus.NO_SHOW)
ADULT_DAYS = 18 * 365
CHAINS = (
    ("Krankengymnastik", [("KG", "Krankengymnastik", "32.00", ZERO, 25)]),
    ("Manuelle Therapie", [("MT", "Manuelle Therapie", "38.00", ZERO, 30)]),
    (
        "Krankengymnastik mit Fango",
        [
            ("KG", "Krankengymnastik", "32.00", ZERO, 25),
            ("WP", "Warmpackung (Fango)", "14.00", ZERO, 20),
        ],
    ),
    ("Manuelle Lymphdrainage 45", [("MLD45", "Manuelle Lymphdrainage 45 Min.", "48.00", ZERO, 45)]),
    (
        "Krankengymnastik mit Theraband",  # therapy (exempt) and a product sold (19 %)
        [
            ("KG", "Krankengymnastik", "32.00", ZERO, 25),
            ("TB", "Theraband zum Üben zu Hause", "9.90", NINETEEN, 0),
        ],
    ),
    ("Osteopathie", [("OST", "Osteopathische Behandlung", "95.00", ZERO, 60)]),
    ("Wellness-Massage", [("WM60", "Wellness-Massage 60 Min.", "69.00", NINETEEN, 60)]),
)


@dataclass(frozen=True)
class DemoResult:
    organisation: Organisation
    email: str
    password: str
    patients: int
    appointments: int
    invoices: int
    documented: int = 0


def _free_demo_email() -> str:
    taken = set(User.objects.filter(email__startswith="demo").values_list("email", flat=True))
    email, number = "demo@lemniscus.test", 1
    while email in taken:
        number += 1
        email = f"demo-{number}@lemniscus.test"
    return email


class _Generator:
    """Random but plausible master data and appointments."""

    def __init__(self, rng: random.Random, zone):
        self.rng = rng
        self.zone = zone
        self.today = timezone.localdate(timezone=zone)

    def patient(self, organisation: Organisation) -> Patient:
        rng = self.rng
        female = rng.random() < 0.55
        first_name = rng.choice(FEMALE_FIRST_NAMES if female else MALE_FIRST_NAMES)
        last_name = rng.choice(LAST_NAMES)
        postal_code, city = rng.choice(PLACES)
        roll = rng.random()
        patient = Patient(
            organisation_id=organisation.pk,
            salutation=Salutation.FEMALE if female else Salutation.MALE,
            title="Dr." if roll < 0.03 else "Prof. Dr." if roll < 0.035 else "",
            first_name=first_name,
            last_name=last_name,
            birth_date=self.today - timedelta(days=rng.randint(3 * 365, 95 * 365)),
            email=self._email(first_name, last_name) if rng.random() < 0.6 else "",
            mobile_phone=self._mobile() if rng.random() < 0.85 else "",
            landline_phone=self._landline() if rng.random() < 0.3 else "",
            street=f"{rng.choice(STREETS)} {rng.randint(1, 140)}{rng.choice(HOUSE_SUFFIXES)}",
            postal_code=postal_code,
            city=city,
        )
        if (self.today - patient.birth_date).days < ADULT_DAYS:
            # A child's invoices go to a parent at the same address.
            patient.invoice_recipient = {
                "salutation": Salutation.FEMALE,
                "title": "",
                "first_name": rng.choice(FEMALE_FIRST_NAMES),
                "last_name": last_name,
                "street": patient.street,
                "postal_code": postal_code,
                "city": city,
                "email": patient.email,
            }
        patient.refresh_search_keys()
        return patient

    def _email(self, first_name: str, last_name: str) -> str:
        local = f"{fold(first_name)}.{fold(last_name)}".replace(" ", "-")
        local = local.encode("ascii", "ignore").decode()
        return f"{local}{self.rng.randint(1, 999)}@{self.rng.choice(EMAIL_DOMAINS)}"

    def _mobile(self) -> str:
        prefix = self.rng.choice(MOBILE_PREFIXES)
        digits = 8 if prefix in ("151", "152", "157", "176") else 7
        return f"+49{prefix}{self.rng.randrange(10 ** (digits - 1), 10**digits)}"

    def _landline(self) -> str:
        prefix = self.rng.choice(LANDLINE_PREFIXES)
        digits = 10 - len(prefix)
        return f"+49{prefix}{self.rng.randrange(10 ** (digits - 1), 10**digits)}"

    def appointment_starts(self) -> list[tuple[datetime, bool]]:
        """APPOINTMENTS_PER_PATIENT starts on working days between 8 and 18 h, each
        with whether it is in the past; at least one is in the past."""
        past = self.rng.choice((1, 2, 2, 3))
        offsets = [-self.rng.randint(1, 180) for _ in range(past)] + [
            self.rng.randint(1, 60) for _ in range(APPOINTMENTS_PER_PATIENT - past)
        ]
        return [(self._start(offset), offset < 0) for offset in sorted(offsets)]

    def _start(self, day_offset: int) -> datetime:
        day = self.today + timedelta(days=day_offset)
        if day.weekday() >= 5:  # weekends move to the Friday before or the Monday after
            day += timedelta(days=(4 if day_offset < 0 else 7) - day.weekday())
        slot = time(self.rng.randint(8, 17), self.rng.choice((0, 15, 30, 45)))
        return datetime.combine(day, slot, tzinfo=self.zone)

    def past_status(self, first: bool) -> str:
        if first:
            return AppointmentStatus.DONE
        roll = self.rng.random()
        if roll < 0.08:
            return AppointmentStatus.CANCELLED
        if roll < 0.12:
            return AppointmentStatus.NO_SHOW
        return AppointmentStatus.DONE


def _record_creation(model, *, organisation: Organisation, actor: User) -> None:
    """The creation ("+") history rows of all the organisation's rows of `model`, as
    simple-history's bulk_history_create makes them, but copied by the database in
    one statement instead of built in Python. The demo organisation is new in this
    transaction, so its rows are exactly the ones just inserted."""
    history = model.history.model
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in history.tracked_fields)
    extra = ("history_date", "history_type", "history_user_id", "history_change_reason")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(history._meta.db_table)} ({columns}, {', '.join(extra)}) "
            f"SELECT {columns}, %s, %s, %s, %s FROM {quote(model._meta.db_table)} "
            "WHERE organisation_id = %s",
            [
                connection.ops.adapt_datetimefield_value(timezone.now()),
                "+",
                actor.pk,
                HISTORY_REASON,
                organisation.pk,
            ],
        )


NOTES = (
    "Befund: Bewegungseinschränkung LWS in Flexion, Schmerz 6/10. Mobilisation in "
    "Seitlage, Kräftigung der Rumpfmuskulatur; Übungen für zu Hause erklärt.",
    "Schulter rechts: Abduktion bis 120°, Außenrotation schmerzhaft. Manuelle Therapie "
    "glenohumeral, Dehnung der hinteren Kapsel. Patient/in gibt Besserung an.",
    "Knie links nach VKB-Plastik: Extension frei, Flexion 110°. Gangschule ohne "
    "Unterarmstützen, Stabilisation auf weicher Unterlage.",
    "HWS: Verspannung M. trapezius beidseits, Kopfschmerz seltener. Weichteiltechniken, "
    "Haltungsschulung am Arbeitsplatz besprochen.",
    "Lymphödem Unterschenkel rechts: Umfang 2 cm weniger als beim letzten Termin. MLD, "
    "Kompressionsversorgung kontrolliert.",
    "Osteopathische Behandlung: Dysfunktion ISG links, Zwerchfell hyperton. Techniken "
    "viszeral und strukturell; Reaktion nach der Behandlung besprochen.",
)
CORRECTIONS = (
    "Nachtrag: Schmerzangabe war 4/10, nicht 6/10.",
    "Korrektur: betroffen ist die linke, nicht die rechte Seite.",
)
MAX_DOCUMENTED = 400


def _document(organisation, owner, treated, rng) -> int:
    """A documentation entry for each treated appointment (up to MAX_DOCUMENTED),
    written after it and finalised a day later, some with a correction; and a
    prescription as an attachment on a few records."""
    author = actor_label(owner)
    now = timezone.now()
    entries = []
    for patient, appointment in treated[:MAX_DOCUMENTED]:
        written = appointment.start + timedelta(minutes=appointment.duration_minutes + 10)
        due = finalises_at(organisation, written)
        entries.append(
            DocumentationEntry(
                organisation=organisation,
                patient=patient,
                appointment=appointment,
                text=rng.choice(NOTES),
                author=owner,
                author_label=author,
                created_at=written,
                finalises_at=due,
                finalised_at=due if due <= now else None,
            )
        )
    DocumentationEntry.objects.bulk_create(entries, batch_size=BATCH_SIZE)
    _record_creation(DocumentationEntry, organisation=organisation, actor=owner)
    DocumentationCorrection.objects.bulk_create(
        DocumentationCorrection(
            entry=entry,
            text=rng.choice(CORRECTIONS),
            author=owner,
            author_label=author,
            created_at=entry.finalises_at + timedelta(hours=9),
        )
        for entry in entries[::12]
        if entry.finalised_at and entry.finalises_at + timedelta(hours=9) < now
    )
    for patient in list(dict.fromkeys(p for p, _ in treated))[:3]:
        prescription = HTML(
            string=f"<h1>Ärztliche Verordnung</h1><p>{patient.display_name}</p>"
            "<p>Krankengymnastik, 6 x, 1–2 x wöchentlich.</p>"
        ).write_pdf()
        attachment_create(
            patient=patient,
            actor=owner,
            file=ContentFile(prescription, name="Verordnung.pdf"),
            description="Ärztliche Verordnung",
        )
    return len(entries)


def _series(organisation, owner, columns, chains, rng) -> int:
    """SERIES series appointments through appointments.series (conflicting dates left
    out), some with the exercise pool booked as their room; the number made."""
    patients = list(
        Patient.objects.filter(organisation=organisation).order_by("id")[: SERIES * 3 : 3]
    )
    therapists = [c for c in columns if c.kind == ColumnKind.THERAPIST]
    pool = next(c for c in columns if c.name == "Bewegungsbad")
    treatments = [c for c in chains if c.description.startswith(("Krankengymnastik", "Manuelle"))]
    tomorrow = organisation.today() + timedelta(days=1)
    made = 0
    for index, patient in enumerate(patients):
        start = datetime.combine(  # from tomorrow on: planned appointments lie ahead
            tomorrow + timedelta(days=index % 5),
            time(7 + index % 11, rng.choice((30, 45))),
            tzinfo=organisation.zone,
        )
        try:
            _, appointments, _ = series_create(
                organisation=organisation,
                notify=False,
                actor=owner,
                patient_id=patient.public_id,
                calendar_column_id=therapists[index % len(therapists)].public_id,
                service_chain_id=rng.choice(treatments).public_id,
                room_id=pool.public_id if index % 3 == 0 else None,
                start=start,
                count=rng.choice((6, 8, 10)),
                on_conflict=OnConflict.SKIP,
            )
        except DomainError:  # every date taken: no series for this one
            continue
        made += len(appointments)
    return made


def _batches(count: int, size: int):
    numbers = iter(range(count))
    while batch := list(islice(numbers, size)):
        yield batch


@transaction.atomic
def demo_seed(*, patients: int, rng: random.Random | None = None) -> DemoResult:
    """A new demo organisation (plan XL) with `patients` records, three appointments
    each (past ones mostly done, future ones planned) and some invoices."""
    rng = rng or random.Random()
    email, password = _free_demo_email(), f"demo-{secrets.token_hex(5)}"
    organisation, owner = organisation_create(
        name="Physiotherapie am Park (Demo)",
        plan=Plan.XL,
        owner_email=email,
        owner_password=password,
    )
    organisation = organisation_update_practice(
        organisation=organisation, data={**PRACTICE, "no_show_fee": NO_SHOW_FEE}
    )
    owner.first_name, owner.last_name = "Anna", "Schneider"
    owner.save(update_fields=["first_name", "last_name"])

    columns = [
        calendar_column_create(organisation=organisation, name=name, kind=kind, colour=colour)
        for name, kind, colour in COLUMNS
    ]
    therapists = [c.pk for c in columns if c.kind == ColumnKind.THERAPIST]
    chains = [
        service_chain_create(
            organisation=organisation,
            description=description,
            services=[
                {"code": code, "name": name, "price": Decimal(price), "vat_rate": vat, "minutes": m}
                for code, name, price, vat, m in services
            ],
        )
        for description, services in CHAINS
    ]
    minutes = {chain.pk: sum(s.minutes for s in chain.services.all()) for chain in chains}
    wellness = next(c for c in chains if c.description == "Wellness-Massage")
    room = next(c for c in columns if c.kind == ColumnKind.ROOM)

    generator = _Generator(rng, organisation.zone)
    invoice_candidates: list[tuple[Patient, list[Appointment]]] = []
    treated: list[tuple[Patient, Appointment]] = []
    now = timezone.now()
    appointment_count = 0
    for numbers in _batches(patients, BATCH_SIZE):
        records = Patient.objects.bulk_create(
            [generator.patient(organisation) for _ in numbers], batch_size=BATCH_SIZE
        )
        appointments = []
        for number, patient in zip(numbers, records, strict=True):
            chain = rng.choice(chains)
            own = [
                Appointment(
                    organisation_id=organisation.pk,
                    patient_id=patient.pk,
                    calendar_column_id=room.pk
                    if chain.pk == wellness.pk
                    else rng.choice(therapists),
                    service_chain_id=chain.pk,
                    start=start,
                    duration_minutes=minutes[chain.pk],
                    status=generator.past_status(index == 0) if past else AppointmentStatus.PLANNED,
                    created_by_id=owner.pk,
                )
                for index, (start, past) in enumerate(generator.appointment_starts())
            ]
            appointments.extend(own)
            treated.extend(
                (patient, a) for a in own if a.status == AppointmentStatus.DONE and a.start < now
            )
            if number % INVOICE_EVERY_NTH_PATIENT == 0 and len(invoice_candidates) < MAX_INVOICES:
                invoice_candidates.append((patient, [a for a in own if a.status in BILLABLE]))
        Appointment.objects.bulk_create(appointments, batch_size=BATCH_SIZE)
        appointment_count += len(appointments)

    for model in (Patient, Appointment):
        _record_creation(model, organisation=organisation, actor=owner)
    appointment_count += _series(organisation, owner, columns, chains, rng)
    documented = _document(organisation, owner, treated, rng)

    for index, (patient, done) in enumerate(invoice_candidates):
        invoice = invoice_create(
            organisation=organisation, actor=owner, patient=patient, appointments=done
        )
        if index % 4 != 3:  # every fourth stays a draft
            invoice_issue(invoice=invoice, actor=owner)
        if index % 4 == 1:
            invoice_pay(invoice=invoice, actor=owner)
        elif index % 4 == 2:  # half paid in cash at the front desk
            payment_record(
                invoice=invoice,
                actor=owner,
                amount=(invoice.total / 2).quantize(Decimal("0.01")),
                method=PaymentMethod.CASH,
            )
    return DemoResult(
        organisation=organisation,
        email=email,
        password=password,
        patients=patients,
        appointments=appointment_count,
        invoices=len(invoice_candidates),
        documented=documented,
    )
