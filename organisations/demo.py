"""A demo organisation with realistic German practice data (`manage.py seed_demo`).

Every run makes a fresh organisation with its own login, so re-running never
collides with an earlier demo. Patients and appointments are written with bulk
inserts in batches (history rows too), so memory stays flat and 100,000 patients
take well under two minutes on PostgreSQL; the few columns, service chains and
invoices go through the services like any other entry point.

Overdue and dunned invoices need a past: an invoice is overdue only weeks after it
was issued, and a notice only when its level's days have passed. The services never
backdate an issue date, a payment or a notice (GoBD), and this module gives them no
way to. Instead the story is played at simulated past moments with time-machine
(which moves the clock of this process only, for the block it wraps): the practice
joins lemniscus STORY_DAYS ago with a few patients, and the real services issue
their invoices (oldest first, so numbers ascend with issue dates), record part
payments and make each dunning notice on the day its level became due (OVERDUE).
Everything else is made now, and today's invoices take the numbers after them.
"""

import random
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from itertools import islice

import time_machine
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from weasyprint import HTML

from appointments.models import Appointment, AppointmentStatus, ColumnKind
from appointments.series import OnConflict, series_create
from appointments.services import calendar_column_create
from audit.services import actor_label
from billing.dunning import dunning_notice_create, levels
from billing.models import PaymentMethod
from billing.payments import payment_record
from billing.services import invoice_create, invoice_issue, invoice_pay, service_chain_create
from documentation.models import DocumentationCorrection, DocumentationEntry
from documentation.services import attachment_create, finalises_at
from lemniscus.errors import DomainError
from lemniscus.text import fold
from organisations.models import Organisation, Plan, User
from organisations.opening_hours import is_open
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
class Overdue:
    """An invoice of the demo's past: issued `days_ago`, a share of it paid by transfer
    a week later, and its first `notices` dunning levels made, each on the day it
    became due (the practice's levels: 7, 21 and 35 days after the due date)."""

    days_ago: int
    paid: Decimal
    notices: int


OVERDUE = (
    Overdue(70, Decimal("0"), 2),  # a Zahlungserinnerung, then the 1. Mahnung with its fee
    Overdue(45, Decimal("0.5"), 1),  # half paid, then a Zahlungserinnerung
    Overdue(35, Decimal("0"), 0),  # overdue, nothing paid, no notice yet
    Overdue(28, Decimal("0.3"), 0),  # overdue, partly paid
)
STORY_DAYS = max(o.days_ago for o in OVERDUE) + 1  # the practice joined lemniscus then
WORKING_HOUR = time(10, 0)


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

    def __init__(self, rng: random.Random, zone, today=None):
        self.rng = rng
        self.zone = zone
        self.today = today or timezone.localdate(timezone=zone)

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

    def appointment_starts(self, *, before: int = 0) -> list[tuple[datetime, bool]]:
        """APPOINTMENTS_PER_PATIENT starts on working days between 8 and 18 h, each
        with whether it is in the past; at least one is in the past. With `before`,
        all are in the past, up to 60 days before the day `before` days ago."""
        if before:
            offsets = [
                -self.rng.randint(before + 1, before + 60) for _ in range(APPOINTMENTS_PER_PATIENT)
            ]
            return [(self._start(offset), True) for offset in sorted(offsets)]
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


def _record_creation(model, *, organisation: Organisation, actor: User, after: int = 0) -> None:
    """The creation ("+") history rows of the organisation's rows of `model` (those
    with an id above `after`), as simple-history's bulk_history_create makes them,
    but copied by the database in one statement instead of built in Python. The demo
    organisation is new in this transaction, so its rows are exactly the ones just
    inserted."""
    history = model.history.model
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in history.tracked_fields)
    extra = ("history_date", "history_type", "history_user_id", "history_change_reason")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(history._meta.db_table)} ({columns}, {', '.join(extra)}) "
            f"SELECT {columns}, %s, %s, %s, %s FROM {quote(model._meta.db_table)} "
            "WHERE organisation_id = %s AND id > %s",
            [
                connection.ops.adapt_datetimefield_value(timezone.now()),
                "+",
                actor.pk,
                HISTORY_REASON,
                organisation.pk,
                after,
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
    # The practice's next five open days from tomorrow on (planned appointments lie
    # ahead): a weekly series starting on a closed day would have no date at all.
    days = (organisation.today() + timedelta(days=offset) for offset in range(1, 15))
    open_days = list(islice((day for day in days if is_open(organisation, day)), 5))
    made = 0
    for index, patient in enumerate(patients):
        start = datetime.combine(
            open_days[index % len(open_days)],
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


@dataclass(frozen=True)
class _Booking:
    """Makes a patient's appointments: one chain per patient, the wellness massage in
    the room, everything else with a therapist."""

    owner: User
    therapists: list[int]
    chains: list
    room: int
    wellness: int
    minutes: dict[int, int]

    def appointments(self, generator: _Generator, patient: Patient, starts) -> list[Appointment]:
        chain = generator.rng.choice(self.chains)
        return [
            Appointment(
                organisation_id=patient.organisation_id,
                patient_id=patient.pk,
                calendar_column_id=self.room
                if chain.pk == self.wellness
                else generator.rng.choice(self.therapists),
                service_chain_id=chain.pk,
                start=start,
                duration_minutes=self.minutes[chain.pk],
                status=generator.past_status(index == 0) if past else AppointmentStatus.PLANNED,
                created_by_id=self.owner.pk,
            )
            for index, (start, past) in enumerate(starts)
        ]


def _book(organisation, generator, booking: _Booking, count: int, *, before: int = 0):
    """`count` new patients with their appointments (all before the day `before`
    days ago, if given), inserted in batches; yields each batch as a list of
    (number, patient, appointments)."""
    for numbers in _batches(count, BATCH_SIZE):
        records = Patient.objects.bulk_create(
            [generator.patient(organisation) for _ in numbers], batch_size=BATCH_SIZE
        )
        batch = [
            (number, patient, booking.appointments(generator, patient, starts))
            for number, patient in zip(numbers, records, strict=True)
            for starts in [generator.appointment_starts(before=before)]
        ]
        Appointment.objects.bulk_create(
            [a for _, _, own in batch for a in own], batch_size=BATCH_SIZE
        )
        yield batch


@dataclass
class _Past:
    """One OVERDUE invoice as it happened: its steps, each on its day, share it."""

    organisation: Organisation
    owner: User
    story: Overdue
    patient: Patient
    appointments: list[Appointment]
    invoice: object = None

    def steps(self, due_after: list[int]) -> list[tuple]:
        """(day, step): issued `days_ago`, part paid a week later, each notice on the
        day its level became due (`due_after`: the levels' days after the due date)."""
        issued = self.organisation.today() - timedelta(days=self.story.days_ago)
        due = issued + timedelta(days=self.organisation.payment_term_days)
        steps = [(issued, self.issue)]
        if self.story.paid:
            steps.append((issued + timedelta(days=7), self.pay))
        steps += [
            (due + timedelta(days=days), self.dun) for days in due_after[: self.story.notices]
        ]
        return steps

    def issue(self):
        draft = invoice_create(
            organisation=self.organisation,
            actor=self.owner,
            patient=self.patient,
            appointments=self.appointments,
        )
        self.invoice = invoice_issue(invoice=draft, actor=self.owner)

    def pay(self):
        amount = (self.invoice.total * self.story.paid).quantize(Decimal("0.01"))
        payment_record(
            invoice=self.invoice, actor=self.owner, amount=amount, method=PaymentMethod.TRANSFER
        )

    def dun(self):
        dunning_notice_create(invoice=self.invoice, actor=self.owner)


def _play_the_past(organisation, owner, billed: list[tuple[Patient, list[Appointment]]]) -> int:
    """The OVERDUE invoices, one per (patient, billable appointments), made by the
    real services at simulated moments (WORKING_HOUR on each day, time-machine). The
    steps of all of them run in the order of their days (a minute apart on the same
    day), so numbers ascend with issue dates and the Protokoll runs forward; a step
    whose day is not yet past is left out. Returns how many invoices were made."""
    today = organisation.today()
    due_after = [level.days_after_due for level in levels(organisation)]
    pasts = [
        _Past(organisation, owner, story, patient, appointments)
        for story, (patient, appointments) in zip(OVERDUE, billed, strict=False)
    ]
    steps = [step for past in pasts for step in past.steps(due_after)]
    taken = Counter()
    for day, step in sorted(steps, key=lambda item: item[0]):  # stable: issue first
        if day < today:
            moment = datetime.combine(day, WORKING_HOUR, organisation.zone)
            with time_machine.travel(moment + timedelta(minutes=taken[day])):
                step()
            taken[day] += 1
    return len(pasts)


def _practice(*, email: str, password: str):
    """The demo organisation with its owner, practice data, calendar columns and
    service chains; and the booking rules for its patients' appointments."""
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
    booking = _Booking(
        owner=owner,
        therapists=[c.pk for c in columns if c.kind == ColumnKind.THERAPIST],
        chains=chains,
        room=next(c.pk for c in columns if c.kind == ColumnKind.ROOM),
        wellness=next(c.pk for c in chains if c.description == "Wellness-Massage"),
        minutes={chain.pk: sum(s.minutes for s in chain.services.all()) for chain in chains},
    )
    return organisation, owner, columns, chains, booking


def _last_id(model, organisation) -> int:
    return model.objects.filter(organisation=organisation).aggregate(last=Max("id"))["last"] or 0


@transaction.atomic
def demo_seed(*, patients: int, rng: random.Random | None = None) -> DemoResult:
    """A new demo organisation (plan XL) with `patients` records, three appointments
    each (past ones mostly done, future ones planned) and invoices: overdue and
    dunned ones from the practice's past (OVERDUE, for one patient in every
    INVOICE_EVERY_NTH_PATIENT), then today's drafts, issued, paid and partly paid
    ones."""
    rng = rng or random.Random()
    email, password = _free_demo_email(), f"demo-{secrets.token_hex(5)}"
    now = timezone.now()
    past_patients = min(len(OVERDUE), patients // INVOICE_EVERY_NTH_PATIENT)
    treated: list[tuple[Patient, Appointment]] = []
    billed_in_the_past: list[tuple[Patient, list[Appointment]]] = []
    # The practice joined STORY_DAYS ago, with the patients whose invoices are overdue
    # now (their appointments all lie before that day).
    with time_machine.travel(now - timedelta(days=STORY_DAYS)):
        organisation, owner, columns, chains, booking = _practice(email=email, password=password)
        generator = _Generator(
            rng, organisation.zone, today=timezone.localdate(now, organisation.zone)
        )
        for batch in _book(organisation, generator, booking, past_patients, before=STORY_DAYS):
            for _, patient, own in batch:
                billed_in_the_past.append((patient, [a for a in own if a.status in BILLABLE]))
                treated.extend((patient, a) for a in own if a.status == AppointmentStatus.DONE)
        for model in (Patient, Appointment):
            _record_creation(model, organisation=organisation, actor=owner)
    overdue = _play_the_past(organisation, owner, billed_in_the_past)

    marks = {model: _last_id(model, organisation) for model in (Patient, Appointment)}
    invoice_candidates: list[tuple[Patient, list[Appointment]]] = []
    appointment_count = sum(len(own) for _, own in billed_in_the_past)
    for batch in _book(organisation, generator, booking, patients - past_patients):
        for number, patient, own in batch:
            treated.extend(
                (patient, a) for a in own if a.status == AppointmentStatus.DONE and a.start < now
            )
            if number % INVOICE_EVERY_NTH_PATIENT == 0 and len(invoice_candidates) < MAX_INVOICES:
                invoice_candidates.append((patient, [a for a in own if a.status in BILLABLE]))
            appointment_count += len(own)

    for model in (Patient, Appointment):
        _record_creation(model, organisation=organisation, actor=owner, after=marks[model])
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
        invoices=overdue + len(invoice_candidates),
        documented=documented,
    )
