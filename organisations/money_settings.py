"""A practice's money settings (staff-api.md 1.1, "Practice data" and "Money in"):
dunning levels, the e-mail signature, and the accountant's DATEV settings with SKR03
defaults (money-de.md). Checked here whoever writes them (page, API, admin)."""

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError

MAX_LEVELS = 5


def default_dunning_levels() -> list[dict]:
    return [
        {"level": 1, "name": "Zahlungserinnerung", "days_after_due": 7, "fee": "0.00"},
        {"level": 2, "name": "1. Mahnung", "days_after_due": 21, "fee": "5.00"},
        {"level": 3, "name": "2. Mahnung", "days_after_due": 35, "fee": "10.00"},
    ]


# SKR03 accounts a therapy practice commonly books to (money-de.md); the practice's
# tax advisor may change every one of them.
SKR03_ACCOUNTS = {
    "cash": "1000",  # Kasse
    "bank": "1200",  # Bank
    "receivables": "1400",  # Forderungen aus Lieferungen und Leistungen
    "revenue_exempt": "8100",  # steuerfreie Umsätze (§ 4 Nr. 14 UStG)
    "revenue_7": "8300",  # Erlöse 7 % USt
    "revenue_19": "8400",  # Erlöse 19 % USt
    "revenue_not_taxable": "8200",  # nicht steuerbare Erlöse (Ausfallhonorar, Mahngebühren)
    "bad_debt": "2400",  # Forderungsverluste
}


def default_datev() -> dict:
    return {
        "advisor_number": "",
        "client_number": "",
        "fiscal_year_start": "01-01",
        "account_length": 4,
        "accounts": dict(SKR03_ACCOUNTS),
    }


def _decimal(value, label: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationError(f"{label}: „{value}“ ist kein Betrag wie 5.00.") from None
    if not amount.is_finite() or amount < 0 or amount > Decimal("1000.00"):
        raise ValidationError(f"{label}: ein Betrag zwischen 0.00 und 1000.00.")
    return amount.quantize(Decimal("0.01"))


def normalize_dunning_levels(value) -> list[dict]:
    """Levels 1, 2, 3 … in order, each with a name, the days after the due date (rising)
    and a fee (a decimal string); a ValidationError in German otherwise."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_LEVELS:
        raise ValidationError(f"Die Mahnstufen sind eine Liste von 1 bis {MAX_LEVELS} Stufen.")
    levels = []
    previous_days = -1
    for number, item in enumerate(value, start=1):
        label = f"Stufe {number}"
        if not isinstance(item, dict):
            raise ValidationError(f"{label}: bitte level, name, days_after_due und fee angeben.")
        if item.get("level", number) != number:
            raise ValidationError(f"{label}: die Stufen werden von 1 an lückenlos gezählt.")
        name = str(item.get("name") or "").strip()
        if not name or len(name) > 60:
            raise ValidationError(f"{label}: bitte einen Namen mit höchstens 60 Zeichen.")
        days = item.get("days_after_due")
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 365:
            raise ValidationError(
                f"{label}: die Tage nach Fälligkeit sind eine Zahl von 0 bis 365."
            )
        if days <= previous_days:
            raise ValidationError(f"{label}: jede Stufe kommt später als die vorige.")
        previous_days = days
        fee = _decimal(item.get("fee", "0.00"), label)
        levels.append({"level": number, "name": name, "days_after_due": days, "fee": f"{fee:.2f}"})
    return levels


def normalize_datev(value) -> dict:
    """The DATEV settings with every key present: advisor and client number (digits;
    DATEV: up to 7 and 5), fiscal-year start `MM-DD`, account length 4 to 8, and the
    accounts (digits of that length)."""
    if not isinstance(value, dict):
        raise ValidationError("Die DATEV-Einstellungen sind ein Objekt.")
    result = default_datev()
    unknown = set(value) - set(result)
    if unknown:
        raise ValidationError(f"Unbekannte DATEV-Angaben: {', '.join(sorted(unknown))}.")
    for key, limit, label in (
        ("advisor_number", 7, "Beraternummer"),
        ("client_number", 5, "Mandantennummer"),
    ):
        number = str(value.get(key, "") or "").strip()
        if number and (not number.isdigit() or len(number) > limit):
            raise ValidationError(f"{label}: höchstens {limit} Ziffern.")
        result[key] = number
    start = str(value.get("fiscal_year_start", "01-01"))
    month, _, day = start.partition("-")
    if not (month.isdigit() and day.isdigit() and 1 <= int(month) <= 12 and 1 <= int(day) <= 31):
        raise ValidationError("Beginn des Wirtschaftsjahres: bitte MM-TT, z. B. 01-01.")
    result["fiscal_year_start"] = f"{int(month):02d}-{int(day):02d}"
    length = value.get("account_length", 4)
    if isinstance(length, bool) or not isinstance(length, int) or not 4 <= length <= 8:
        raise ValidationError("Sachkontenlänge: eine Zahl von 4 bis 8.")
    result["account_length"] = length
    accounts = value.get("accounts", {}) or {}
    if not isinstance(accounts, dict) or set(accounts) - set(SKR03_ACCOUNTS):
        raise ValidationError(f"Konten: erlaubt sind {', '.join(SKR03_ACCOUNTS)}.")
    for key, default in SKR03_ACCOUNTS.items():
        account = str(accounts.get(key, default)).strip()
        if not account.isdigit() or len(account) > length:
            raise ValidationError(f"Konto {key}: höchstens {length} Ziffern.")
        result["accounts"][key] = account
    return result
