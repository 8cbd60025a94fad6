"""The one list of what the Protokoll records: each action's name (dotted, lower-case;
the part before the first dot is the entry's `object_type`) and its German label for
the page and the CSV file. `audit_record` refuses a name that is not here."""

from django.db import models


class Action(models.TextChoices):
    # Logins (organisation members only; a failed login only for a member's address)
    LOGIN = "login", "Anmeldung"
    LOGIN_FAILED = "login.failed", "Anmeldung fehlgeschlagen"
    LOGOUT = "logout", "Abmeldung"

    # Records (patients.services; the Doctolib bridge's changes too)
    PATIENT_CREATE = "patient.create", "Akte angelegt"
    PATIENT_UPDATE = "patient.update", "Akte geändert"
    PATIENT_DELETE = "patient.delete", "Akte gelöscht"
    PATIENT_ARCHIVE = "patient.archive", "Akte archiviert"
    PATIENT_UNARCHIVE = "patient.unarchive", "Archivierung aufgehoben"
    PATIENT_ERASE = "patient.erase", "Akte nach Ablauf der Aufbewahrungsfrist gelöscht"
    PATIENT_LINK = "patient.link", "Akte mit Doctolib verknüpft"
    PATIENT_UNLINK = "patient.unlink", "Verknüpfung mit Doctolib entfernt"

    # Documentation and attachments (documentation.services)
    DOCUMENTATION_READ = "documentation.read", "Dokumentation gelesen"
    DOCUMENTATION_CREATE = "documentation.create", "Dokumentation angelegt"
    DOCUMENTATION_UPDATE = "documentation.update", "Dokumentation geändert"
    DOCUMENTATION_FINALISE = "documentation.finalise", "Dokumentation abgeschlossen"
    DOCUMENTATION_CORRECT = "documentation.correct", "Dokumentation korrigiert"
    ATTACHMENT_UPLOAD = "attachment.upload", "Anhang hochgeladen"
    ATTACHMENT_LIST = "attachment.list", "Anhänge aufgelistet"
    ATTACHMENT_DOWNLOAD = "attachment.download", "Anhang heruntergeladen"
    DISCLOSURE_CREATE = "disclosure.create", "Datenauskunft erstellt"

    # Invoices and payments (billing.services)
    INVOICE_CREATE = "invoice.create", "Rechnungsentwurf erstellt"
    INVOICE_RECIPIENT = "invoice.recipient", "Rechnungsempfänger geändert"
    INVOICE_LINE_ADD = "invoice.line_add", "Position eines Rechnungsentwurfs hinzugefügt"
    INVOICE_LINE_UPDATE = "invoice.line_update", "Position eines Rechnungsentwurfs geändert"
    INVOICE_LINE_REMOVE = "invoice.line_remove", "Position eines Rechnungsentwurfs entfernt"
    INVOICE_ISSUE = "invoice.issue", "Rechnung gestellt"
    INVOICE_PAY = "invoice.pay", "Rechnung als bezahlt markiert"
    INVOICE_CANCEL = "invoice.cancel", "Rechnung storniert"
    INVOICE_DISCARD = "invoice.discard", "Rechnungsentwurf verworfen"
    INVOICE_PDF = "invoice.pdf", "Rechnungs-PDF abgerufen"
    INVOICE_SEND = "invoice.send", "Rechnung zum Versand per E-Mail gegeben"
    INVOICE_WRITE_OFF = "invoice.write_off", "Rechnung ausgebucht"
    PAYMENT_CREATE = "payment.create", "Zahlung erfasst"
    PAYMENT_REVERSE = "payment.reverse", "Zahlung storniert"
    # Dunning (billing.dunning)
    DUNNING_CREATE = "dunning.create", "Mahnung erstellt"
    DUNNING_PDF = "dunning.pdf", "Mahnungs-PDF abgerufen"
    DUNNING_SEND = "dunning.send", "Mahnung zum Versand per E-Mail gegeben"
    # Billing runs (billing.runs); each draft and issue also has its invoice's entry
    BILLING_RUN_CREATE = "billing_run.create", "Rechnungslauf gestartet"
    BILLING_RUN_ISSUE = "billing_run.issue", "Rechnungslauf: Entwürfe zum Stellen gegeben"
    BILLING_RUN_SEND = "billing_run.send", "Rechnungslauf: Rechnungen zum Versand gegeben"
    BILLING_RUN_PRINT = "billing_run.print", "Rechnungslauf: Druck-PDF abgerufen"

    # Exports (doctolib_bridge.handover; the Protokoll's own CSV file)
    EXPORT_CREATE = "export.create", "Export für Doctolib gestartet"
    EXPORT_DELETE = "export.delete", "Termine bei der Übergabe an Doctolib gelöscht"
    EXPORT_UNDO = "export.undo", "Löschen der Termine rückgängig gemacht"
    EXPORT_DOWNLOAD = "export.download", "Exportdatei heruntergeladen"
    EXPORT_ACCOUNTING = "export.accounting", "Steuerberater-Export heruntergeladen"
    AUDIT_EXPORT = "audit.export", "Protokoll heruntergeladen"

    # Tokens (tokens.services)
    TOKEN_CREATE = "token.create", "Token erstellt"
    TOKEN_REVOKE = "token.revoke", "Token widerrufen"

    # Staff users (organisations.services; Einstellungen → Mitarbeiter)
    USER_INVITE = "user.invite", "Mitarbeiter/in eingeladen"
    USER_INVITE_RESEND = "user.invite_resend", "Einladung erneut verschickt"
    USER_PASSWORD_SET = "user.password_set", "Passwort über die Einladung festgelegt"
    USER_UPDATE = "user.update", "Mitarbeiter/in geändert"
    USER_DEACTIVATE = "user.deactivate", "Zugang deaktiviert"
    USER_REACTIVATE = "user.reactivate", "Zugang wieder aktiviert"


LABELS: dict[str, str] = dict(Action.choices)

# What an entry's `object_type` names, in German.
OBJECT_TYPES: dict[str, str] = {
    "login": "Anmeldung",
    "logout": "Abmeldung",
    "patient": "Akte",
    "documentation": "Dokumentation",
    "attachment": "Anhang",
    "disclosure": "Datenauskunft",
    "invoice": "Rechnung",
    "payment": "Zahlung",
    "dunning": "Mahnung",
    "billing_run": "Rechnungslauf",
    "export": "Export",
    "audit": "Protokoll",
    "token": "Token",
    "user": "Mitarbeiter/in",
}


def object_type_of(action: str) -> str:
    return action.split(".", 1)[0]


def label(action: str) -> str:
    """The German label; an action no longer listed shows as its name."""
    return LABELS.get(action, action)


def object_type_label(object_type: str) -> str:
    return OBJECT_TYPES.get(object_type, object_type)
