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


class HasInvoices(Conflict):
    code = "has_invoices"
    default_detail = "Die Akte hat Rechnungen und kann nicht gelöscht werden."


class ColumnInUse(Conflict):
    code = "column_in_use"
    default_detail = "Die Kalenderspalte hat Termine und kann nicht gelöscht werden."
