"""Domain errors. Each carries the contract's `code` and HTTP status; the API's
exception handler (lemniscus.api) turns them into problem+json, the pages into
German messages. Raise them from services and selectors; never match on text."""


class DomainError(Exception):
    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"
    default_detail: str = "Die Anfrage ist ungültig."

    def __init__(self, detail: str | None = None, *, errors: dict | None = None, **extra):
        self.detail = detail or self.default_detail
        self.errors = errors
        self.extra = extra
        super().__init__(self.detail)


class NotFound(DomainError):
    status, code, title = 404, "not_found", "Not found"
    default_detail = "Das Objekt wurde nicht gefunden."


class PermissionDenied(DomainError):
    status, code, title = 403, "permission_denied", "Forbidden"
    default_detail = "Dafür fehlt Ihnen das Recht."


class PlanRequired(DomainError):
    status, code, title = 403, "plan_required", "Plan required"
    default_detail = "Die Doctolib-Integration ist nur im XL- oder XXL-Abo enthalten."


class TokenInvalid(DomainError):
    status, code, title = 401, "token_invalid", "Unauthorized"
    default_detail = "Der Token fehlt, ist unbekannt, widerrufen oder von der falschen Art."


class ValidationFailed(DomainError):
    status, code, title = 422, "validation_error", "Validation failed"
    default_detail = "Einige Angaben sind ungültig."


class Conflict(DomainError):
    status, code, title = 409, "conflict", "Conflict"


class LinkConflict(Conflict):
    code = "link_conflict"
    default_detail = "Die Verknüpfung widerspricht einer bestehenden Verknüpfung."


class AppointmentInvoiced(Conflict):
    code = "appointment_invoiced"
    default_detail = "Der Termin steht auf einer Rechnung und kann nicht geändert werden."


class InvalidStatus(Conflict):
    code = "invalid_status"
    default_detail = "Das ist in diesem Status nicht möglich."


class DunningNotDue(Conflict):
    """The invoice's next dunning level is not due yet (its days after the due date
    have not passed), or every level has been used."""

    code = "dunning_not_due"
    default_detail = "Für diese Rechnung ist noch keine Mahnung fällig."


class HasInvoices(Conflict):
    code = "has_invoices"
    default_detail = "Die Akte hat Rechnungen und kann nicht gelöscht werden."


class ColumnInUse(Conflict):
    code = "column_in_use"
    default_detail = "Die Kalenderspalte hat Termine und kann nicht gelöscht werden."


class InvitationNotPending(Conflict):
    """A new invitation for a member who has set a password already (or is
    deactivated)."""

    code = "invitation_not_pending"
    default_detail = (
        "Diese Person hat ihr Passwort schon festgelegt; eine Einladung ist nicht mehr "
        "nötig. Ein vergessenes Passwort setzt sie selbst über „Passwort vergessen?“ zurück."
    )


class ChainInUse(Conflict):
    code = "chain_in_use"
    default_detail = (
        "Die Leistungskette wird von Terminen verwendet und kann nicht gelöscht werden."
    )


class PatientNotLinked(DomainError):
    """404 when the Doctolib id is in the path; 422 (`status=422`) when an appointment
    names it in the body."""

    status, code, title = 404, "patient_not_linked", "Patient not linked"
    default_detail = "Dieser Doctolib-Patient ist mit keiner Akte in lemniscus verknüpft."

    def __init__(self, detail=None, *, status: int = 404, **extra):
        super().__init__(detail, **extra)
        self.status = status


class TransferExpired(Conflict):
    code = "transfer_expired"
    default_detail = (
        "Die Übertragung ist abgelaufen, durch eine neuere ersetzt oder schon gespeichert."
    )


class PayloadTooLarge(DomainError):
    status, code, title = 413, "payload_too_large", "Payload too large"
    default_detail = "Der Inhalt der Anfrage ist größer als 256 KiB."


class MalformedRequest(DomainError):
    status, code, title = 400, "malformed_request", "Malformed request"
    default_detail = "Der Inhalt der Anfrage ist kein gültiges JSON-Objekt."


class RateLimited(DomainError):
    status, code, title = 429, "rate_limited", "Too many requests"
    default_detail = "Zu viele Anfragen dieser Organisation; bitte kurz warten."

    def __init__(self, *, retry_after: int):
        super().__init__()
        self.retry_after = retry_after


class IdempotencyKeyReused(DomainError):
    status, code, title = 422, "idempotency_key_reused", "Idempotency key reused"
    default_detail = "Dieser Idempotency-Key wurde schon mit einem anderen Inhalt verwendet."


class ExportRunning(Conflict):
    code = "export_running"
    default_detail = (
        "Für diese Organisation läuft schon ein Export; bitte warten Sie, bis er fertig ist."
    )


class BillingRunRunning(Conflict):
    code = "billing_run_running"
    default_detail = (
        "Ein Rechnungslauf der Praxis arbeitet noch. Ein neuer kann starten, sobald er fertig ist."
    )


class UndoRefused(Conflict):
    code = "undo_refused"
    default_detail = "Das Löschen der Termine kann nicht rückgängig gemacht werden."


class InvoiceIncomplete(ValidationFailed):
    """Issuing without the data § 14 Abs. 4 UStG asks for; `errors` are keyed
    `practice.<field>` / `recipient.<field>`."""

    code = "invoice_incomplete"
    default_detail = (
        "Die Rechnung kann noch nicht gestellt werden: es fehlen Pflichtangaben (§ 14 Abs. 4 UStG)."
    )


class NoEmail(DomainError):
    """Sending a document by e-mail when neither its recipient nor the patient has an
    e-mail address (staff-api.md 1.1, "Sending")."""

    status, code, title = 422, "no_email", "No e-mail address"
    default_detail = (
        "Weder der Rechnungsempfänger noch die Patientin oder der Patient hat eine "
        "E-Mail-Adresse; die Rechnung kann nicht per E-Mail gesendet werden."
    )


class ArchiveDamaged(DomainError):
    """The stored PDF of an issued invoice no longer matches its hash: it is not
    served (nor rendered anew), and support must restore it from a backup."""

    status, code, title = 500, "archive_damaged", "Archive damaged"
    default_detail = (
        "Das archivierte PDF dieser Rechnung ist beschädigt und wird nicht ausgeliefert. "
        "Bitte wenden Sie sich an den Support."
    )


class RetentionRequired(Conflict):
    """Deleting a record with treatment history (§ 630f BGB); `retain_until` says how
    long it is kept."""

    code = "retention_required"
    default_detail = (
        "Die Akte hat eine Behandlungshistorie und muss aufbewahrt werden (§ 630f BGB); "
        "sie kann archiviert, aber nicht gelöscht werden."
    )


class RecordArchived(Conflict):
    code = "record_archived"
    default_detail = "Die Akte ist archiviert und kann nicht geändert werden."


class EntryFinalised(Conflict):
    """A finalised documentation entry stands as written: add a correction instead."""

    code = "entry_finalised"
    default_detail = (
        "Der Eintrag ist abgeschlossen und kann nicht mehr geändert werden; bitte eine "
        "Korrektur hinzufügen."
    )


class PossibleDuplicate(Conflict):
    """A new record looks like one that exists (same folded name and birth date, or
    the same mobile phone or e-mail); `duplicates` names them."""

    code = "possible_duplicate"
    default_detail = (
        "Es gibt schon eine Akte, die wie diese aussieht. Bitte prüfen Sie die genannten "
        "Akten; mit „confirm_duplicate“ wird die neue Akte trotzdem angelegt."
    )


class RoomBooked(Conflict):
    """The appointment would book a room that another appointment holds at that time
    (a therapist column may be double-booked, a room not)."""

    code = "room_booked"
    default_detail = "Der Raum ist zu dieser Zeit schon belegt."


class AppointmentExternal(Conflict):
    """A booking platform leads the appointment's time, column, patient and note:
    it is moved there and transferred again."""

    code = "appointment_external"
    default_detail = (
        "Dieser Termin kommt aus Doctolib: Zeit, Dauer, Spalte und Akte ändern Sie bitte "
        "in Doctolib und übertragen den Termin erneut."
    )


class SeriesConflicts(Conflict):
    """Some dates of a new series collide with the column's or the room's
    appointments; `conflicts` lists them. With `on_conflict` the caller decides."""

    code = "series_conflicts"
    default_detail = (
        "Einige Termine der Serie überschneiden sich mit bestehenden Terminen. Mit "
        "„on_conflict“: „skip“ werden sie ausgelassen, mit „book“ trotzdem angelegt "
        "(nur in der Therapeutenspalte; ein belegter Raum wird nie doppelt gebucht)."
    )
