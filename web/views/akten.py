"""Akten pages: search and list, a new record, the record (Stammdaten, Doctolib
actions, history), sending it to Doctolib, deleting it, and linking a Doctolib
patient (the Zipper contract's `link_url`).

Every member reads records; writing needs the "documentation" right."""

from datetime import date
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import TemplateView

from appointments.selectors import patient_appointments
from billing.selectors import patient_invoices
from doctolib_bridge import services as bridge
from doctolib_bridge.zipper.serializers import is_doctolib_id
from documentation import selectors as documentation_selectors
from documentation import services as documentation
from lemniscus.errors import DomainError, LinkConflict, NotFound, PossibleDuplicate
from lemniscus.phones import display_phone
from lemniscus.tenancy import scoped
from organisations.models import Right, Role
from patients import retention, selectors, services
from patients.disclosure import disclosure_response, disclosure_zip
from patients.models import Patient, Salutation
from web.forms_abrechnung import RecipientForm
from web.forms_akten import (
    DOCTOLIB_LED_HINT,
    DOCTOLIB_LED_HINT_ID,
    AktenSearchForm,
    NewLinkedPatientForm,
    PatientForm,
    SuggestionForm,
)
from web.mixins import StaffPageMixin

PAGE_SIZE = 50


def is_htmx(request) -> bool:
    """An htmx request for a part of the page (a history restore wants the whole)."""
    return "HX-Request" in request.headers and "HX-History-Restore-Request" not in request.headers


def safe_next(value: str | None) -> str | None:
    """`next` only as a relative path on this site (no control characters either)."""
    if (
        value
        and value.isprintable()
        and value.startswith("/")
        and not value.startswith(("//", "/\\"))
        and url_has_allowed_host_and_scheme(value, allowed_hosts=None)
    ):
        return value
    return None


class PartialMixin:
    """htmx asks for `partial_template_name`, a part of the page; the same URL without
    htmx answers the whole page (`template_name`)."""

    partial_template_name: str

    def get_template_names(self):
        return [self.partial_template_name if is_htmx(self.request) else self.template_name]

    def render_to_response(self, context, **kwargs):
        response = super().render_to_response(context, **kwargs)
        patch_vary_headers(response, ["HX-Request"])
        return response


class AktenPageMixin(StaffPageMixin):
    """Reading is open to every member; `post` needs the documentation right. An
    archived record is read-only."""

    def dispatch(self, request, *args, **kwargs):
        if (
            request.method == "POST"
            and request.user.is_authenticated
            and not request.user.has_right(Right.DOCUMENTATION)
        ):
            raise PermissionDenied("Für Änderungen an Akten fehlt Ihnen das Recht.")
        return super().dispatch(request, *args, **kwargs)

    @property
    def can_edit(self) -> bool:
        return self.request.user.has_right(Right.DOCUMENTATION)

    def editable(self, patient: Patient) -> bool:
        return self.can_edit and patient.archived_at is None

    def access_patient(self) -> Patient:
        try:
            patient = selectors.access_patient(
                organisation=self.organisation, public_id=self.kwargs["patient_id"]
            )
        except NotFound:
            raise Http404("Diese Akte gibt es nicht.") from None
        patient.organisation = self.organisation  # the same row: it was scoped by it
        return patient


class AktenListView(PartialMixin, AktenPageMixin, TemplateView):
    """Search (name, birth date, phone) and the paginated list; htmx asks for the results."""

    template_name = "web/akten/list.html"
    partial_template_name = "web/akten/_results.html"

    def get_context_data(self, **kwargs):
        form = AktenSearchForm(self.request.GET)
        valid = form.is_valid()
        q = form.cleaned_data["q"] if valid else ""
        archived = valid and form.cleaned_data["archiviert"]
        patients = selectors.patient_list(organisation=self.organisation, q=q, archived=archived)
        page = Paginator(patients, PAGE_SIZE).get_page(self.request.GET.get("page"))
        query = {"q": q} if q else {}
        if archived:
            query["archiviert"] = "on"
        return super().get_context_data(form=form, q=q, page=page, query=urlencode(query), **kwargs)


class AkteCreateView(AktenPageMixin, TemplateView):
    template_name = "web/akten/new.html"
    right = Right.DOCUMENTATION

    def get(self, request, *args, **kwargs):
        initial = {"reminder_consent": self.organisation.reminder_consent_default}
        return self.render_to_response(self.get_context_data(form=PatientForm(initial=initial)))

    def post(self, request, *args, **kwargs):
        """A record that looks like an existing one is shown with those first; the
        second submit ("Trotzdem anlegen") creates it."""
        form = PatientForm(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=422)
        try:
            patient = services.patient_create(
                organisation=self.organisation,
                actor=request.user,
                confirm_duplicate=request.POST.get("confirm_duplicate") == "1",
                **form.changes(),
            )
        except PossibleDuplicate as exc:
            duplicates = scoped(Patient, self.organisation).filter(
                public_id__in=exc.extra["duplicates"]
            )
            return self.render_to_response(
                self.get_context_data(form=form, duplicates=duplicates.order_by("id"))
            )
        messages.success(request, "Die Akte ist angelegt.")
        return redirect("akte", patient_id=patient.public_id)


def _shown(field: str, value) -> str:
    """A history value as staff read it."""
    if value is None or value == "":
        return "—"
    if field == "sync_to_doctolib":
        return "ja" if value else "nein"
    if field in ("mobile_phone", "landline_phone"):
        return display_phone(value)
    if field == "salutation":
        return dict(Salutation.choices).get(value, value)
    if field == "invoice_recipient":
        parts = (value.get("first_name"), value.get("last_name"), value.get("street"))
        place = " ".join(p for p in (value.get("postal_code"), value.get("city")) if p)
        return ", ".join(p for p in (*parts, place) if p)
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y")
    return str(value)


HUB_PAGE_SIZE = 10


class AkteView(AktenPageMixin, TemplateView):
    """The record as the front desk's hub: its next and past appointments, its
    invoices, its documentation and attachments (each paged, in a constant number of
    queries), "Neuer Termin", "Neue Rechnung" and "Dokumentation schreiben" for this
    patient, the Stammdaten, Doctolib state and actions, the
    invoice recipient, retention and history."""

    template_name = "web/akten/record.html"

    def get(self, request, *args, **kwargs):
        patient = self.access_patient()
        form = PatientForm(patient=patient, can_edit=self.editable(patient))
        return self.render_to_response(self.get_context_data(patient=patient, form=form))

    def recipient_form(self, patient: Patient, data=None) -> RecipientForm:
        form = RecipientForm(data, recipient=patient.invoice_recipient)
        if not self.editable(patient):
            for field in form.fields.values():
                field.disabled = True
        return form

    def post(self, request, *args, **kwargs):
        patient = self.access_patient()
        form = PatientForm(request.POST, patient=patient)
        if form.is_valid():
            try:
                services.patient_update(patient=patient, actor=request.user, **form.changes())
            except LinkConflict as exc:
                form.add_error("sync_to_doctolib", exc.detail)
            except DomainError as exc:
                form.add_error(None, exc.detail)
            else:
                messages.success(request, "Die Stammdaten sind gespeichert.")
                return redirect("akte", patient_id=patient.public_id)
        patient = self.access_patient()  # as stored: a refused change left nothing behind
        return self.render_to_response(
            self.get_context_data(patient=patient, form=form), status=422
        )

    def get_context_data(self, *, patient, **kwargs):
        history = selectors.patient_history(patient=patient)
        for entry in history:
            for change in entry["changes"]:
                change["old"] = _shown(change["field"], change["old"])
                change["new"] = _shown(change["field"], change["new"])
        kwargs.setdefault("recipient_form", self.recipient_form(patient))
        user, get = self.request.user, self.request.GET
        can_bill = user.has_right(Right.BILLING)
        can_read_documentation = user.has_right(Right.DOCUMENTATION)
        if can_read_documentation:
            # reading them is in the Protokoll (the services write it)
            documentation.documentation_read(
                patient=patient, actor=user, detail="Akte mit Dokumentation und Anhängen"
            )
            kwargs["entries"] = Paginator(
                documentation_selectors.patient_entries(patient=patient), HUB_PAGE_SIZE
            ).get_page(get.get("doku_seite"))
            kwargs["attachments"] = Paginator(
                documentation_selectors.patient_attachments(patient=patient), HUB_PAGE_SIZE
            ).get_page(get.get("anhaenge_seite"))
        return super().get_context_data(
            can_read_documentation=can_read_documentation,
            patient=patient,
            upcoming=Paginator(
                patient_appointments(patient=patient, upcoming=True), HUB_PAGE_SIZE
            ).get_page(get.get("termine_seite")),
            past=Paginator(
                patient_appointments(patient=patient, upcoming=False), HUB_PAGE_SIZE
            ).get_page(get.get("verlauf_seite")),
            invoices=Paginator(patient_invoices(patient=patient), HUB_PAGE_SIZE).get_page(
                get.get("rechnungen_seite")
            )
            if can_bill
            else None,
            can_book=user.has_right(Right.APPOINTMENTS) and patient.archived_at is None,
            can_bill=can_bill,
            history=history,
            can_edit=self.editable(patient),
            is_admin=self.request.user.role == Role.ADMIN,
            retain_until=retention.retain_until(patient),
            led_hint=DOCTOLIB_LED_HINT,
            led_hint_id=DOCTOLIB_LED_HINT_ID,
            **kwargs,
        )


class AkteRecipientView(AkteView):
    """POST: who the record's invoices go to by default, when not the patient."""

    def get(self, request, *args, **kwargs):
        return redirect("akte", patient_id=self.kwargs["patient_id"])

    def post(self, request, *args, **kwargs):
        patient = self.access_patient()
        recipient_form = self.recipient_form(patient, request.POST)
        if recipient_form.is_valid():
            try:
                services.patient_update(
                    patient=patient,
                    actor=request.user,
                    invoice_recipient=recipient_form.recipient(),
                )
            except DomainError as exc:
                messages.error(request, exc.detail)
            else:
                messages.success(request, "Der Rechnungsempfänger ist gespeichert.")
            return redirect("akte", patient_id=patient.public_id)
        form = PatientForm(patient=patient, can_edit=self.can_edit)
        context = self.get_context_data(patient=patient, form=form, recipient_form=recipient_form)
        return self.render_to_response(context, status=422)


class ConfirmStepView(PartialMixin, AktenPageMixin, TemplateView):
    """GET shows the confirm step (as a part of the record page for htmx, else as a
    page of its own); POST does it."""

    right = Right.DOCUMENTATION

    def get(self, request, *args, **kwargs):
        return self.render_to_response(self.get_context_data(patient=self.access_patient()))


class AkteSendView(ConfirmStepView):
    """The Doctolib icon on a record not linked yet: a warning first, then the checkbox
    is set and the record goes to the change feed."""

    template_name = "web/akten/send_confirm.html"
    partial_template_name = "web/akten/_send_confirm.html"

    def post(self, request, *args, **kwargs):
        patient = self.access_patient()
        if patient.sync_to_doctolib:
            messages.info(request, "Die Akte ist schon für Doctolib vorgesehen.")
        else:
            try:
                services.patient_update(patient=patient, actor=request.user, sync_to_doctolib=True)
            except DomainError as exc:
                messages.error(request, exc.detail)
                return redirect("akte", patient_id=patient.public_id)
            messages.success(
                request,
                "Die Akte wird an Doctolib übertragen; die Verknüpfung erscheint, sobald "
                "Doctolib sie angelegt hat.",
            )
        return redirect("akte", patient_id=patient.public_id)


class AkteDeleteView(ConfirmStepView):
    """Organisation admins delete a record without treatment history; one with it is
    kept (§ 630f BGB) and can be archived instead."""

    admin_only = True
    template_name = "web/akten/delete_confirm.html"
    partial_template_name = "web/akten/_delete_confirm.html"

    def get_context_data(self, *, patient, **kwargs):
        return super().get_context_data(
            patient=patient,
            appointment_count=patient.appointments.count(),
            retain_until=retention.retain_until(patient),
            **kwargs,
        )

    def post(self, request, *args, **kwargs):
        patient = self.access_patient()
        try:
            services.patient_delete(patient=patient, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.detail)
            return redirect("akte", patient_id=patient.public_id)
        messages.success(request, f"Die Akte „{patient.display_name}“ ist gelöscht.")
        return redirect("akten")


class AkteArchiveView(ConfirmStepView):
    """Organisation admins archive a record (ask first) or take it back (`aufheben`)."""

    admin_only = True
    template_name = "web/akten/archive_confirm.html"
    partial_template_name = "web/akten/_archive_confirm.html"

    def get_context_data(self, *, patient, **kwargs):
        return super().get_context_data(
            patient=patient, retain_until=retention.retain_until(patient), **kwargs
        )

    def post(self, request, *args, **kwargs):
        patient = self.access_patient()
        if kwargs.get("undo"):
            services.patient_unarchive(patient=patient, actor=request.user)
            messages.success(request, "Die Akte ist nicht mehr archiviert.")
        else:
            services.patient_archive(patient=patient, actor=request.user)
            messages.success(request, "Die Akte ist archiviert und jetzt schreibgeschützt.")
        return redirect("akte", patient_id=patient.public_id)


class AkteDisclosureView(StaffPageMixin, View):
    """ "Auskunft erstellen" (organisation admins): POST downloads the patient's copy
    of their data as a ZIP (GDPR Art. 15/20), and the Protokoll notes it."""

    admin_only = True

    def post(self, request, *args, **kwargs):
        try:
            patient = selectors.access_patient(
                organisation=self.organisation, public_id=self.kwargs["patient_id"]
            )
        except NotFound:
            raise Http404("Diese Akte gibt es nicht.") from None
        try:
            content = disclosure_zip(patient=patient, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.detail)
            return redirect("akte", patient_id=patient.public_id)
        return disclosure_response(patient, content)


class LinkView(PartialMixin, AktenPageMixin, TemplateView):
    """`/akten/verknuepfen/?doctolib_patient_id=…[&next=…]`: link a Doctolib patient to
    an existing record found with the suggestion search, or to a new record."""

    right = Right.DOCUMENTATION
    template_name = "web/akten/link.html"
    partial_template_name = "web/akten/_suggestions.html"

    def dispatch(self, request, *args, **kwargs):
        self.doctolib_patient_id = (request.GET.get("doctolib_patient_id") or "").strip()
        self.next_url = safe_next(request.GET.get("next"))
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, *args, **kwargs):
        if not is_doctolib_id(self.doctolib_patient_id):
            return self.render_to_response(self.get_context_data(invalid_id=True), status=400)
        search = SuggestionForm(request.GET)
        initial = {}
        if search.is_valid():
            data = search.cleaned_data
            initial = {
                "last_name": data["nachname"],
                "first_name": data["vorname"],
                "birth_date": data["geburtsdatum"],
            }
        return self.render_to_response(
            self.get_context_data(
                search=search,
                form=NewLinkedPatientForm(
                    initial={
                        **initial,
                        "reminder_consent": self.organisation.reminder_consent_default,
                    }
                ),
            )
        )

    def post(self, request, *args, **kwargs):
        if not is_doctolib_id(self.doctolib_patient_id):
            return self.render_to_response(self.get_context_data(invalid_id=True), status=400)
        form = None
        try:
            if "patient_id" in request.POST:
                patient, _ = bridge.link_create(
                    organisation=self.organisation,
                    patient_id=request.POST["patient_id"],
                    doctolib_patient_id=self.doctolib_patient_id,
                    actor=request.user,
                )
            else:
                form = NewLinkedPatientForm(request.POST)
                if not form.is_valid():
                    return self.render_to_response(
                        self.get_context_data(search=SuggestionForm(), form=form), status=422
                    )
                patient = bridge.link_new_record(
                    organisation=self.organisation,
                    actor=request.user,
                    doctolib_patient_id=self.doctolib_patient_id,
                    fields=form.changes(),
                )
        except NotFound:
            raise Http404("Diese Akte gibt es nicht.") from None
        except LinkConflict as exc:
            messages.error(request, exc.detail)
            return redirect(self.own_url())
        messages.success(
            request,
            f"Die Akte „{patient.display_name}“ ist mit dem Doctolib-Patienten "
            f"{self.doctolib_patient_id} verknüpft.",
        )
        return redirect(self.next_url or reverse("akte", kwargs={"patient_id": patient.public_id}))

    def own_url(self) -> str:
        query = {"doctolib_patient_id": self.doctolib_patient_id}
        if self.next_url:
            query["next"] = self.next_url
        return f"{reverse('akte_verknuepfen')}?{urlencode(query)}"

    def get_context_data(self, *, search=None, **kwargs):
        suggestions = []
        if search is not None and search.is_valid() and search.cleaned_data["nachname"]:
            data = search.cleaned_data
            suggestions = selectors.patient_suggestions(
                organisation=self.organisation,
                last_name=data["nachname"],
                first_name=data["vorname"],
                birth_date=data["geburtsdatum"],
            )
        linked = None
        if is_doctolib_id(self.doctolib_patient_id):
            linked = (
                scoped(Patient, self.organisation)
                .filter(doctolib_patient_id=self.doctolib_patient_id)
                .first()
            )
        return super().get_context_data(
            doctolib_patient_id=self.doctolib_patient_id,
            next_url=self.next_url,
            action_url=self.own_url(),
            search=search,
            suggestions=suggestions,
            linked=linked,
            **kwargs,
        )
