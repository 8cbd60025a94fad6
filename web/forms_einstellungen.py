"""Forms of the Einstellungen pages: the practice data ("Praxisdaten") and the
Protokoll's filters."""

from django import forms
from localflavor.generic.forms import BICFormField, IBANFormField

from lemniscus.phones import normalize_phone
from lemniscus.times import EARLIEST_YEAR, LATEST_YEAR
from organisations.models import User
from organisations.services import MAX_PAYMENT_TERM_DAYS, MAX_REMINDER_HOURS
from web.fields import CleanCharField
from web.forms_akten import PhoneField


class PracticeForm(forms.Form):
    """What an organisation admin edits: the letterhead and bank details the invoices
    print, the payment term, and when appointment reminders go out
    (organisations.services.PRACTICE_FIELDS)."""

    name = CleanCharField(label="Name der Praxis", max_length=200, required=True)
    owner_name = CleanCharField(label="Inhaber/in", max_length=200)
    street = CleanCharField(label="Straße und Hausnummer", max_length=200)
    postal_code = CleanCharField(label="PLZ", max_length=10)
    city = CleanCharField(label="Ort", max_length=100)
    phone = PhoneField(label="Telefon")
    email = forms.EmailField(label="E-Mail", max_length=254, required=False)
    tax_number = CleanCharField(
        label="Steuernummer",
        max_length=32,
        help_text="Vom Finanzamt, z. B. 21/815/08150. Auf jeder Rechnung steht die "
        "Steuernummer oder die USt-IdNr. (§ 14 Abs. 4 UStG).",
    )
    vat_id = CleanCharField(
        label="USt-IdNr.",
        max_length=20,
        help_text="Falls vorhanden: DE und neun Ziffern, z. B. DE123456788.",
    )
    iban = IBANFormField(label="IBAN", required=False)
    bic = BICFormField(label="BIC", required=False)
    bank_account_holder = CleanCharField(label="Kontoinhaber/in", max_length=200)
    small_business = forms.BooleanField(
        label="Kleinunternehmer (§ 19 UStG)",
        required=False,
        help_text="Neue Rechnungen weisen dann keine Umsatzsteuer aus.",
    )
    payment_term_days = forms.IntegerField(
        label="Zahlungsziel (Tage)", min_value=0, max_value=MAX_PAYMENT_TERM_DAYS
    )
    no_show_fee = forms.DecimalField(
        label="Ausfallhonorar (€)",
        max_digits=10,
        decimal_places=2,
        min_value=0,
        required=False,
        localize=True,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
        help_text="Für nicht wahrgenommene Termine, ohne Umsatzsteuer (Schadensersatz). "
        "Leer: nicht wahrgenommene Termine werden nicht abgerechnet.",
    )
    no_show_fee_name = CleanCharField(
        label="Bezeichnung auf der Rechnung", max_length=100, required=True
    )
    reminder_hours_before = forms.IntegerField(
        label="Terminerinnerung (Stunden vorher)",
        min_value=0,
        max_value=MAX_REMINDER_HOURS,
        help_text=(
            "Wann die Erinnerungs-E-Mail mit dem Absage-Link vor einem Termin verschickt "
            "wird; 0: keine Erinnerungen. Nach der Übergabe an Doctolib verschickt "
            "lemniscus keine Terminbenachrichtigungen mehr."
        ),
    )

    email_signature = CleanCharField(
        label="E-Mail-Signatur",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Steht unter jeder Rechnung, die per E-Mail versendet wird, z. B. Gruß, "
        "Name der Praxis, Telefon und Sprechzeiten. Leer: „Mit freundlichen Grüßen“ und "
        "der Name der Praxis.",
    )

    reminder_consent_default = forms.BooleanField(
        label="Neue Akten: E-Mail-Erinnerungen angekreuzt",
        required=False,
        help_text="Erinnerungen gehen nur an Patientinnen und Patienten, die eingewilligt "
        "haben (Häkchen „E-Mail-Erinnerungen“ in der Akte).",
    )

    GROUPS = (
        (
            "Briefkopf der Rechnungen",
            (
                "name",
                "owner_name",
                "street",
                "postal_code",
                "city",
                "phone",
                "email",
                "tax_number",
                "vat_id",
            ),
        ),
        (
            "Bankverbindung und Zahlung",
            ("iban", "bic", "bank_account_holder", "payment_term_days", "small_business"),
        ),
        ("Ausfallhonorar", ("no_show_fee", "no_show_fee_name")),
        ("Rechnungen per E-Mail", ("email_signature",)),
        ("Terminerinnerungen", ("reminder_hours_before", "reminder_consent_default")),
    )

    def groups(self):
        """(legend, bound fields) per fieldset of the page."""
        return [(legend, [self[name] for name in names]) for legend, names in self.GROUPS]

    def clean_phone(self):
        return normalize_phone(self.cleaned_data["phone"])

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()

    def clean_email_signature(self):
        """Line ends as the mail writes them (a browser sends CRLF)."""
        return self.cleaned_data["email_signature"].replace("\r\n", "\n").strip()


DAY_FORMATS = ["%Y-%m-%d", "%d.%m.%Y"]


class AuditLogFilterForm(forms.Form):
    """The Protokoll's filters (GET): a record by search or id, a member, a period of
    whole days in the organisation's zone."""

    akte = CleanCharField(
        label="Akte",
        max_length=100,
        help_text="Name, Geburtsdatum oder ID der Akte",
    )
    mitarbeiter = forms.ModelChoiceField(
        label="Mitarbeiter/in",
        queryset=User.objects.none(),
        required=False,
        empty_label="Alle",
        error_messages={"invalid_choice": "Diese Person gehört nicht zur Praxis."},
    )
    von = forms.DateField(
        label="Von",
        required=False,
        input_formats=DAY_FORMATS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    bis = forms.DateField(
        label="Bis",
        required=False,
        input_formats=DAY_FORMATS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args, organisation, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["mitarbeiter"]
        field.queryset = User.objects.filter(organisation=organisation).order_by(
            "last_name", "first_name", "email"
        )
        field.label_from_instance = lambda user: (
            f"{user.display_name} ({user.email})" if user.display_name != user.email else user.email
        )

    def _clean_day(self, name):
        day = self.cleaned_data[name]
        if day is not None and not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
            raise forms.ValidationError(
                f"Bitte ein Datum zwischen {EARLIEST_YEAR} und {LATEST_YEAR} angeben."
            )
        return day

    def clean_akte(self):
        term = self.cleaned_data["akte"]
        if term and not any(char.isalnum() for char in term):
            raise forms.ValidationError("Bitte einen Namen, ein Geburtsdatum oder eine ID angeben.")
        return term

    def clean_von(self):
        return self._clean_day("von")

    def clean_bis(self):
        return self._clean_day("bis")

    def clean(self):
        data = super().clean()
        if data.get("von") and data.get("bis") and data["bis"] < data["von"]:
            self.add_error("bis", "„Bis“ liegt vor „Von“.")
        return data
