import re
from datetime import date, datetime

from django.db.models import Case, Q, QuerySet, When
from django.db.models.functions import Lower

from lemniscus.tenancy import access, scoped
from lemniscus.text import fold, split_name_words
from patients.models import Patient


def parse_search_date(term: str, *, today: date | None = None) -> date | None:
    """`TT.MM.JJJJ`, `TT.MM.JJ` (a two-digit year up to this year's is 20JJ, a later
    one 19JJ) or ISO `YYYY-MM-DD`, else None."""
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(term, fmt).date()
        except ValueError:
            continue
    match = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{2})", term)
    if match:
        day, month, short_year = (int(part) for part in match.groups())
        this_year = (today or date.today()).year
        century = 2000 if short_year <= this_year % 100 else 1900
        try:
            return date(century + short_year, month, day)
        except ValueError:
            return None
    return None


def _phone_digits(term: str) -> str | None:
    """The digits of a term that is a phone number (digits with spaces, +, -, /, ( )),
    as stored in E.164 without the country's leading 0; else None."""
    if not re.fullmatch(r"[\d\s+\-/()]*\d[\d\s+\-/()]*", term):
        return None
    digits = re.sub(r"\D", "", term)
    return digits[1:] if digits.startswith("0") else digits


def _word_condition(token: str) -> Q:
    """What one word of a search term must match: a date the birth date, a number the
    phone numbers, anything else the start of a word of the first or last name."""
    birth_date = parse_search_date(token)
    if birth_date:
        return Q(birth_date=birth_date)
    digits = _phone_digits(token)
    if digits:
        # Numbers are stored in E.164: a national "0171…" is "+49171…".
        return Q(mobile_phone__contains=digits) | Q(landline_phone__contains=digits)
    condition = Q()
    for part in split_name_words(token):
        folded = fold(part)
        if folded:
            condition &= Q(search_words__contains=f" {folded}")
    return condition


def patient_list(
    *, organisation, q: str | None = None, archived: bool = False
) -> QuerySet[Patient]:
    """The organisation's records, ordered by last name, first name. `q` is split into
    words at spaces and commas; every word must match (staff-api.md 1.1, "Search"):
    the start of a word of the first or last name, folded (umlauts as "oe" and as
    "o"), a birth date (TT.MM.JJJJ, TT.MM.JJ, ISO), or digits of a phone number.
    Archived records only with `archived` (then together with the others)."""
    qs = scoped(Patient, organisation)
    if not archived:
        qs = qs.filter(archived_at__isnull=True)
    tokens = [token for token in re.split(r"[\s,]+", (q or "").strip()) if token]
    for token in tokens:
        qs = qs.filter(_word_condition(token))
    if tokens:
        # The same order, but as an expression no index has: PostgreSQL then finds the
        # matches through the trigram (or birth date) index and sorts those few, instead
        # of walking the whole name index in order and filtering (bench/search.py:
        # 50 ms against 8 ms for a common name at 100,000 records).
        return qs.order_by(Lower("last_name_folded"), "first_name_folded", "id")
    return qs.order_by("last_name_folded", "first_name_folded", "id")


DUPLICATE_LIMIT = 10


def likely_duplicates(
    *,
    organisation,
    first_name: str = "",
    last_name: str = "",
    birth_date: date | None = None,
    mobile_phone: str = "",
    email: str = "",
) -> list[Patient]:
    """Records a new one with these data would likely duplicate: the same folded
    first and last name and birth date, or the same mobile phone (E.164) or e-mail.
    Archived records count too. Oldest first, at most ten."""
    condition = Q()
    if last_name and birth_date:
        condition |= Q(
            first_name_folded=fold(first_name)[:100],
            last_name_folded=fold(last_name)[:100],
            birth_date=birth_date,
        )
    if mobile_phone:
        condition |= Q(mobile_phone=mobile_phone)
    if email:
        condition |= Q(email__iexact=email)
    if not condition:
        return []
    return list(scoped(Patient, organisation).filter(condition).order_by("id")[:DUPLICATE_LIMIT])


def access_patient(*, organisation, public_id, lock: bool = False) -> Patient:
    return access(Patient, organisation=organisation, public_id=public_id, lock=lock)


FIELD_LABELS = {
    "salutation": "Anrede",
    "title": "Titel",
    "first_name": "Vorname",
    "last_name": "Nachname",
    "birth_date": "Geburtsdatum",
    "email": "E-Mail",
    "mobile_phone": "Mobil",
    "landline_phone": "Festnetz",
    "street": "Straße",
    "postal_code": "PLZ",
    "city": "Ort",
    "notes": "Notizen",
    "invoice_recipient": "Rechnungsempfänger",
    "reminder_consent": "E-Mail-Erinnerungen",
    "sync_to_doctolib": "Doctolib",
    "doctolib_patient_id": "Doctolib-Patienten-ID",
    "archived_at": "Archiviert",
}


def patient_history(*, patient: Patient) -> list[dict]:
    """Every change of the record, newest first: when, who, and each field's old and
    new value (§ 630f BGB: the original content stays visible)."""
    records = list(patient.history.select_related("history_user").order_by("-history_id"))
    entries = []
    for newer, older in zip(records, [*records[1:], None], strict=True):
        changes = []
        if older is not None:
            delta = newer.diff_against(older, included_fields=list(FIELD_LABELS))
            changes = [
                {"field": c.field, "label": FIELD_LABELS[c.field], "old": c.old, "new": c.new}
                for c in delta.changes
            ]
        entries.append(
            {
                "time": newer.history_date,
                "type": {"+": "created", "~": "changed", "-": "deleted"}[newer.history_type],
                "actor": (
                    newer.history_user.display_name
                    if newer.history_user
                    else newer.history_change_reason or "System"
                ),
                "changes": changes,
            }
        )
    return entries


SUGGESTION_LIMIT = 10


def patient_suggestions(
    *, organisation, last_name: str, first_name: str = "", birth_date: date | None = None
) -> list[Patient]:
    """The "Vorschlags-Patient" search: records whose folded last name starts with the
    folded `last_name`, at most ten; equal birth date first, then equal first name,
    then last name, then id (zipper-api.md).

    Three small indexed queries instead of one that ranks every match: the records
    with the birth date, those with the first name (not the birth date), then the
    rest in last-name order, each stopping at ten. A one-letter prefix matches a
    sixth of all records; ranking them all costs a heap fetch per match."""
    folded_last = fold(last_name)
    if not folded_last:
        return []
    folded_first = fold(first_name)
    matches = scoped(Patient, organisation).filter(
        last_name_folded__startswith=folded_last, archived_at__isnull=True
    )
    found: list[Patient] = []
    rest = matches
    if birth_date is not None:
        same_birth = matches.filter(birth_date=birth_date)
        ranking = (
            [Case(When(first_name_folded=folded_first, then=0), default=1)] if folded_first else []
        )
        found += same_birth.order_by(*ranking, "last_name_folded", "id")[:SUGGESTION_LIMIT]
        rest = rest.exclude(birth_date=birth_date)
    if folded_first and len(found) < SUGGESTION_LIMIT:
        same_first = rest.filter(first_name_folded=folded_first)
        found += same_first.order_by("last_name_folded", "id")[: SUGGESTION_LIMIT - len(found)]
        rest = rest.exclude(first_name_folded=folded_first)
    if len(found) < SUGGESTION_LIMIT:
        found += rest.order_by("last_name_folded", "id")[: SUGGESTION_LIMIT - len(found)]
    return found
