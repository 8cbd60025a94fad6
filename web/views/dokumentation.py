"""Documentation and attachments on the record: write an entry ("Dokumentation
schreiben", optionally for an appointment), change it while it is open, finalise it,
add a correction, upload files (drag and drop, with progress: web/static/web/
anhaenge.js) and open them. Everything needs the documentation right; the services
check it, keep archived records read-only and write the Protokoll."""

from datetime import timedelta

from csp.decorators import csp_exempt
from django.contrib import messages
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.generic import TemplateView

from appointments.models import Appointment
from documentation import selectors, services
from documentation.api import attachment_response
from lemniscus.errors import DomainError, NotFound
from organisations.models import Right
from web.forms_dokumentation import CorrectionForm, EntryForm, UploadForm
from web.views.akten import AktenPageMixin, PartialMixin

APPOINTMENT_CHOICES = 30


def record_url(patient, anchor: str = "dokumentation") -> str:
    return f"{reverse('akte', kwargs={'patient_id': patient.public_id})}#{anchor}"


class DokuPageMixin(AktenPageMixin):
    right = Right.DOCUMENTATION

    def access_entry(self, patient):
        try:
            return selectors.access_entry(patient=patient, public_id=self.kwargs["entry_id"])
        except NotFound:
            raise Http404("Diesen Eintrag gibt es nicht.") from None


def _appointments(patient):
    """What an entry may be written for: the record's appointments up to the end of
    today, latest first."""
    end_of_today = timezone.now() + timedelta(days=1)
    return list(
        Appointment.objects.filter(patient=patient, start__lt=end_of_today)
        .select_related("calendar_column")
        .order_by("-start", "-id")[:APPOINTMENT_CHOICES]
    )


class EntryCreateView(DokuPageMixin, TemplateView):
    """`/akten/<id>/dokumentation/neu/[?termin=<appointment id>]`."""

    template_name = "web/akten/doku_entry.html"

    def get(self, request, *args, **kwargs):
        patient = self.access_patient()
        appointments = _appointments(patient)
        form = EntryForm(
            appointments=appointments,
            zone=self.organisation.zone,
            initial={"appointment": request.GET.get("termin")},
        )
        return self.render_to_response(self.get_context_data(patient=patient, form=form))

    def post(self, request, *args, **kwargs):
        patient = self.access_patient()
        appointments = _appointments(patient)
        form = EntryForm(request.POST, appointments=appointments, zone=self.organisation.zone)
        if form.is_valid():
            chosen = form.cleaned_data["appointment"]
            appointment = next((a for a in appointments if str(a.public_id) == chosen), None)
            try:
                services.entry_create(
                    patient=patient,
                    actor=request.user,
                    text=form.cleaned_data["text"],
                    appointment=appointment,
                )
            except DomainError as exc:
                form.add_error(None, exc.detail)
            else:
                messages.success(request, "Der Eintrag ist gespeichert.")
                return redirect(record_url(patient))
        context = self.get_context_data(patient=patient, form=form)
        return self.render_to_response(context, status=422)


class EntryEditView(DokuPageMixin, TemplateView):
    """Change an open entry ("Speichern"), or save and finalise it at once."""

    template_name = "web/akten/doku_entry.html"

    def get(self, request, *args, **kwargs):
        patient = self.access_patient()
        entry = self.access_entry(patient)
        if entry.is_finalised:
            messages.info(
                request, "Der Eintrag ist abgeschlossen; Sie können eine Korrektur hinzufügen."
            )
            return redirect(
                "doku_korrektur", patient_id=patient.public_id, entry_id=entry.public_id
            )
        form = CorrectionForm(initial={"text": entry.text})
        form.fields["text"].label = "Dokumentation"
        return self.render_to_response(
            self.get_context_data(patient=patient, entry=entry, form=form)
        )

    def post(self, request, *args, **kwargs):
        patient = self.access_patient()
        entry = self.access_entry(patient)
        form = CorrectionForm(request.POST)
        form.fields["text"].label = "Dokumentation"
        if form.is_valid():
            try:
                entry = services.entry_update(
                    entry=entry, actor=request.user, text=form.cleaned_data["text"]
                )
                if "abschliessen" in request.POST:
                    services.entry_finalise(entry=entry, actor=request.user)
            except DomainError as exc:
                form.add_error(None, exc.detail)
            else:
                done = (
                    "gespeichert und abgeschlossen"
                    if "abschliessen" in request.POST
                    else "gespeichert"
                )
                messages.success(request, f"Der Eintrag ist {done}.")
                return redirect(record_url(patient))
        context = self.get_context_data(patient=patient, entry=entry, form=form)
        return self.render_to_response(context, status=422)


class EntryFinaliseView(PartialMixin, DokuPageMixin, TemplateView):
    """GET asks first (in the timeline with htmx); POST finalises."""

    template_name = "web/akten/doku_finalise.html"
    partial_template_name = "web/akten/_doku_finalise.html"

    def get(self, request, *args, **kwargs):
        patient = self.access_patient()
        entry = self.access_entry(patient)
        return self.render_to_response(self.get_context_data(patient=patient, entry=entry))

    def post(self, request, *args, **kwargs):
        patient = self.access_patient()
        entry = self.access_entry(patient)
        try:
            services.entry_finalise(entry=entry, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, "Der Eintrag ist abgeschlossen.")
        return redirect(record_url(patient))


class EntryCorrectView(DokuPageMixin, TemplateView):
    """Add a correction; the entry's text stays as written and is shown above."""

    template_name = "web/akten/doku_correction.html"

    def get(self, request, *args, **kwargs):
        patient = self.access_patient()
        entry = self.access_entry(patient)
        return self.render_to_response(
            self.get_context_data(patient=patient, entry=entry, form=CorrectionForm())
        )

    def post(self, request, *args, **kwargs):
        patient = self.access_patient()
        entry = self.access_entry(patient)
        form = CorrectionForm(request.POST)
        if form.is_valid():
            try:
                services.entry_correct(
                    entry=entry, actor=request.user, text=form.cleaned_data["text"]
                )
            except DomainError as exc:
                form.add_error(None, exc.detail)
            else:
                messages.success(request, "Die Korrektur ist gespeichert.")
                return redirect(record_url(patient))
        context = self.get_context_data(patient=patient, entry=entry, form=form)
        return self.render_to_response(context, status=422)


def _wants_json(request) -> bool:
    """The page's script asks for JSON; a plain form post wants the page back."""
    return "application/json" in request.headers.get("Accept", "")


class AttachmentUploadView(DokuPageMixin, View):
    """POST (multipart `file`, `description`): store one file. The page's script
    sends it with a progress bar and reads JSON; without script the form posts and
    the record page shows the message."""

    def post(self, request, *args, **kwargs):
        patient = self.access_patient()
        form = UploadForm(request.POST, request.FILES)
        if not form.is_valid():
            errors = [e for field in form.errors.values() for e in field]
            return self._answer(request, patient, errors[0], ok=False, status=422)
        try:
            attachment = services.attachment_create(
                patient=patient,
                actor=request.user,
                file=form.cleaned_data["file"],
                description=form.cleaned_data["description"],
            )
        except DomainError as exc:
            message = (exc.errors or {}).get("file", [exc.detail])[0]
            return self._answer(request, patient, message, ok=False, status=exc.status)
        return self._answer(
            request, patient, f"„{attachment.name}“ ist angehängt.", ok=True, status=201
        )

    def _answer(self, request, patient, message: str, *, ok: bool, status: int):
        if _wants_json(request):
            return JsonResponse({"ok": ok, "message": message}, status=status)
        (messages.success if ok else messages.error)(request, message)
        return redirect(record_url(patient, "anhaenge"))


@method_decorator(xframe_options_sameorigin, name="dispatch")
@method_decorator(csp_exempt(), name="dispatch")  # Chromium's PDF viewer shows it
class AttachmentFileView(DokuPageMixin, View):
    """The file, for download or (`?vorschau=1`) shown in the page's preview."""

    def get(self, request, *args, **kwargs):
        try:
            attachment = selectors.access_attachment(
                organisation=self.organisation, public_id=self.kwargs["attachment_id"]
            )
        except NotFound:
            raise Http404("Diesen Anhang gibt es nicht.") from None
        try:
            content = services.attachment_open(attachment=attachment, actor=request.user)
        except DomainError as exc:
            return HttpResponse(
                exc.detail, status=exc.status, content_type="text/plain; charset=utf-8"
            )
        return attachment_response(attachment, content, inline=request.GET.get("vorschau") == "1")
