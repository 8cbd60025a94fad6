"""Forms of the billing pages (Leistungsketten, Rechnungen) and of token management.

Text is taken as the APIs take it (lemniscus.text.clean); the rules themselves stay
in billing.services and tokens.services."""

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

from billing.models import InvoiceStatus, TaxCategory
from billing.services import tax_category_for
from lemniscus.tenancy import parse_public_id
from organisations.models import User
from patients.models import RECIPIENT_FIELDS, Salutation
from web.fields import CleanCharField

MAX_SERVICES = 100


# Leistungsketten


class ServiceChainForm(forms.Form):
    description = CleanCharField(
        label="Beschreibung",
        max_length=200,
        required=True,
        help_text="Ohne Synchronisationskennung muss sie genau so heißen wie der "
        "Besuchsgrund in Doctolib, inklusive Groß- und Kleinschreibung.",
    )
    notes = CleanCharField(
        label="Anmerkungen",
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Hier steht die Synchronisationskennung, z. B. #Osteopathie, als "
        "eigenes Wort (durch Leerzeichen oder Zeilenumbruch getrennt).",
    )


class ServiceForm(forms.Form):
    code = CleanCharField(label="Ziffer", max_length=32)
    name = CleanCharField(label="Leistung", max_length=200, required=True)
    price = forms.DecimalField(
        label="Preis (netto, €)",
        max_digits=10,
        decimal_places=2,
        min_value=0,
        localize=True,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 8}),
    )
    vat_rate = forms.DecimalField(
        label="USt-Satz (%)",
        max_digits=5,
        decimal_places=2,
        min_value=0,
        max_value=Decimal("99.99"),
        initial=Decimal("0"),
        localize=True,
        error_messages={"max_value": "Höchstens 99,99 %%."},
        widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 5}),
    )
    tax_category = forms.ChoiceField(
        label="Steuerart",
        choices=[
            ("", "nach USt-Satz"),
            (TaxCategory.EXEMPT_THERAPY, "steuerfrei (§ 4 Nr. 14)"),
            (TaxCategory.TAXABLE, "steuerpflichtig"),
            (TaxCategory.NOT_TAXABLE, "nicht steuerbar"),
        ],
        required=False,
    )
    minutes = forms.IntegerField(
        label="Minuten", min_value=0, max_value=1440, initial=0, required=False
    )

    def clean_minutes(self):
        return self.cleaned_data["minutes"] or 0

    def clean(self):
        data = super().clean()
        if "vat_rate" in data:
            try:
                data["tax_category"] = tax_category_for(
                    vat_rate=data["vat_rate"], tax_category=data.get("tax_category") or None
                )
            except ValueError as exc:
                self.add_error("vat_rate", str(exc))
        return data


class BaseServiceFormSet(forms.BaseFormSet):
    """The chain's services as rows; empty new rows are left out, rows marked
    "Entfernen" are dropped. At least one service must remain."""

    def services(self) -> list[dict]:
        return [
            {name: value for name, value in form.cleaned_data.items() if name != "DELETE"}
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]

    def clean(self):
        if not any(self.errors) and not self.services():
            raise ValidationError("Die Leistungskette braucht mindestens eine Leistung.")


ServiceFormSet = forms.formset_factory(
    ServiceForm,
    formset=BaseServiceFormSet,
    extra=1,
    can_delete=True,
    max_num=MAX_SERVICES,
    absolute_max=MAX_SERVICES,
    validate_max=True,
)


# Rechnungen


class InvoiceFilterForm(forms.Form):
    """The invoice list's and the Offene Posten's filters (billing.selectors.invoice_search)."""

    status = forms.ChoiceField(
        label="Status",
        choices=[("", "alle"), ("open", "offen"), *InvoiceStatus.choices],
        required=False,
    )
    q = CleanCharField(
        label="Nummer oder Patient/in",
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    von = forms.DateField(
        label="Rechnungsdatum von",
        required=False,
        input_formats=["%Y-%m-%d", "%d.%m.%Y"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Bitte ein Datum angeben (TT.MM.JJJJ)."},
    )
    bis = forms.DateField(
        label="bis",
        required=False,
        input_formats=["%Y-%m-%d", "%d.%m.%Y"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Bitte ein Datum angeben (TT.MM.JJJJ)."},
    )
    ueberfaellig = forms.BooleanField(label="nur überfällige", required=False)

    def clean(self):
        data = super().clean()
        if data.get("von") and data.get("bis") and data["von"] > data["bis"]:
            self.add_error("bis", "Das Ende liegt vor dem Anfang.")
        return data

    def filters(self) -> dict:
        """The valid filters as invoice_search takes them (invalid ones are left out)."""
        data = self.cleaned_data if self.is_bound else {}
        return {
            "status": data.get("status") or "",
            "q": data.get("q") or "",
            "date_from": data.get("von") if "von" not in self.errors else None,
            "date_to": data.get("bis") if "bis" not in self.errors else None,
            "overdue": bool(data.get("ueberfaellig")),
        }


class PatientSearchForm(forms.Form):
    q = CleanCharField(
        label="Akte suchen",
        max_length=100,
        help_text="Name, Geburtsdatum (TT.MM.JJJJ) oder Telefonnummer",
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )


class PublicIdsField(forms.MultipleChoiceField):
    """Appointment ids as ticked; any well-formed id is taken, the service decides
    whether the appointment can be billed (and says why not)."""

    def valid_value(self, value):
        return parse_public_id(value) is not None

    def clean(self, value):
        return list(dict.fromkeys(parse_public_id(v) for v in super().clean(value)))


class InvoiceCreateForm(forms.Form):
    appointments = PublicIdsField(
        label="Termine",
        error_messages={
            "required": "Bitte wählen Sie mindestens einen Termin.",
            "invalid_choice": "Unbekannter Termin: %(value)s",
        },
    )
    diagnosis = CleanCharField(
        label="Diagnose",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional; steht auf der Rechnung (private Krankenversicherungen fragen "
        "oft danach).",
    )


def _quantity_field(**kwargs) -> forms.DecimalField:
    return forms.DecimalField(
        label="Menge",
        max_digits=7,
        decimal_places=2,
        min_value=Decimal("0.01"),
        localize=True,
        error_messages={"min_value": "Die Menge muss größer als 0 sein."},
        widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 5}),
        **kwargs,
    )


def _unit_price_field(**kwargs) -> forms.DecimalField:
    return forms.DecimalField(
        label="Einzelpreis (netto, €)",
        max_digits=10,
        decimal_places=2,
        min_value=0,
        localize=True,
        error_messages={"min_value": "Der Einzelpreis darf nicht negativ sein."},
        widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 8}),
        **kwargs,
    )


class InvoiceLineForm(forms.Form):
    """A free line of a draft (a home-visit fee, materials); the rules are
    billing.services.invoice_line_add's."""

    code = CleanCharField(label="Ziffer", max_length=32)
    name = CleanCharField(label="Bezeichnung", max_length=200, required=True)
    quantity = _quantity_field(initial=Decimal("1"))
    unit_price = _unit_price_field()
    tax_category = forms.ChoiceField(
        label="Steuerart",
        choices=ServiceForm.base_fields["tax_category"].choices,
        required=False,
    )
    vat_rate = forms.ChoiceField(
        label="USt-Satz",
        choices=[("0.00", "0 %"), ("7.00", "7 %"), ("19.00", "19 %")],
        initial="0.00",
    )
    service_date = forms.DateField(
        label="Leistungsdatum",
        required=False,
        help_text="Leer: heute.",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def clean_vat_rate(self):
        return Decimal(self.cleaned_data["vat_rate"])

    def line(self) -> dict:
        data = dict(self.cleaned_data)
        data["tax_category"] = data.get("tax_category") or None
        return data


class InvoiceLineEditForm(forms.Form):
    """Change the quantity or the unit price of a draft's line."""

    quantity = _quantity_field()
    unit_price = _unit_price_field()


# Token management


class ApiTokenForm(forms.Form):
    user = forms.ModelChoiceField(
        label="Benutzer",
        queryset=User.objects.none(),
        empty_label="Bitte wählen",
        help_text="Der Token handelt mit den Rechten dieses Benutzers.",
        error_messages={"invalid_choice": "Kein aktiver Benutzer dieser Organisation."},
    )
    name = CleanCharField(
        label="Bezeichnung",
        max_length=100,
        help_text="Optional, z. B. wofür der Token gedacht ist.",
    )

    def __init__(self, *args, organisation, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = User.objects.filter(
            organisation=organisation, is_active=True
        ).order_by("last_name", "first_name", "email")
        self.fields["user"].label_from_instance = lambda user: (
            f"{user.display_name} ({user.email})" if user.display_name != user.email else user.email
        )


# Rechnungsempfänger


class RecipientForm(forms.Form):
    """Who pays, when not the patient (a parent, a carer): the record's default or a
    draft's own (patients.models.RECIPIENT_FIELDS). Unticked: the patient."""

    other = forms.BooleanField(
        label="Die Rechnungen gehen an eine andere Person",
        required=False,
        help_text="z. B. an die Eltern eines Kindes oder eine Betreuerin",
    )
    salutation = forms.ChoiceField(label="Anrede", choices=Salutation.choices, required=False)
    title = CleanCharField(label="Titel", max_length=50)
    first_name = CleanCharField(label="Vorname", max_length=100)
    last_name = CleanCharField(label="Nachname", max_length=100)
    street = CleanCharField(label="Straße", max_length=200)
    postal_code = CleanCharField(label="PLZ", max_length=10)
    city = CleanCharField(label="Ort", max_length=100)
    email = forms.EmailField(label="E-Mail", max_length=254, required=False)

    def __init__(self, *args, recipient: dict | None = None, **kwargs):
        if recipient:
            kwargs.setdefault("initial", {"other": True, **recipient})
        kwargs.setdefault("prefix", "empfaenger")
        super().__init__(*args, **kwargs)

    @property
    def address_fields(self):
        return [self[name] for name in RECIPIENT_FIELDS]

    def clean(self):
        data = super().clean()
        if data.get("other") and not data.get("last_name"):
            self.add_error("last_name", "Bitte den Nachnamen des Rechnungsempfängers angeben.")
        return data

    def recipient(self) -> dict | None:
        """The recipient to store; None: the patient."""
        if not self.cleaned_data["other"]:
            return None
        data = {name: self.cleaned_data[name] for name in RECIPIENT_FIELDS}
        data["email"] = data["email"].strip().lower()
        return data
