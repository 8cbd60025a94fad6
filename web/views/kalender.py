"""Kalender: the calendar (a day of all columns or of one, a week of one column), a
new lemniscus appointment, and an appointment's own page (details, edit form,
cancelling, history). Selectors read, appointments.services writes; domain errors
become German messages or form errors."""

from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.utils import timezone
from django.views.generic import TemplateView

from appointments.models import Appointment, AppointmentSource, AppointmentStatus
from appointments.selectors import (
    access_appointment,
    appointment_history,
    calendar_appointments,
    colliding_ids,
)
from appointments.services import ALLOWED_TRANSITIONS, appointment_create, appointment_update
from lemniscus.errors import AppointmentInvoiced, DomainError, NotFound, ValidationFailed
from lemniscus.text import has_nul
from organisations.models import Right
from patients.selectors import patient_list
from web.forms_kalender import AppointmentForm, CalendarNavigationForm, columns_of, patient_label
from web.mixins import StaffPageMixin
from web.views.kalender_grid import build_grid, lock_reason

SEARCH_LIMIT = 20
DOCTOLIB_HINT = (
    "Verschiebungen und Änderungen der Dauer bitte in Doctolib vornehmen und den Termin "
    "erneut übertragen."
)


def kalender_path(day: date, column=None, view: str = "tag") -> str:
    query = {"datum": day.isoformat()}
    if column is not None:
        query["spalte"] = str(column.public_id)
    if view != "tag":
        query["ansicht"] = view
    return f"/kalender/?{urlencode(query)}"


def appointment_calendar_path(appointment: Appointment, zone) -> str:
    return kalender_path(appointment.start.astimezone(zone).date(), appointment.calendar_column)


class CalendarPageMixin:
    """After StaffPageMixin: renders in the organisation's zone (forms read times in
    it too); every member may look, writing needs the appointments right."""

    def dispatch(self, request, *args, **kwargs):
        if request.method not in ("GET", "HEAD") and not request.user.has_right(Right.APPOINTMENTS):
            raise PermissionDenied("Dafür fehlt Ihnen das Recht „Termine“.")
        with timezone.override(self.organisation.zone):
            response = super().dispatch(request, *args, **kwargs)
            if hasattr(response, "render") and not response.is_rendered:
                response.render()
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["can_write"] = self.request.user.has_right(Right.APPOINTMENTS)
        return context


def found(lookup, **kwargs):
    """The object, or the 404 page (another organisation's object looks missing)."""
    try:
        return lookup(**kwargs)
    except NotFound:
        raise Http404 from None


def patient_search(organisation, q: str) -> list:
    """Up to SEARCH_LIMIT records for the search term; a term with a NUL byte (which
    no record holds) finds none."""
    term = (q or "").strip()
    if not term or has_nul(term):
        return []
    return list(patient_list(organisation=organisation, q=term)[:SEARCH_LIMIT])


def show_domain_error(form, exc: DomainError) -> None:
    """A service's refusal on the form: field errors where it names fields."""
    if isinstance(exc, ValidationFailed) and exc.errors:
        for name, field_errors in exc.errors.items():
            target = {"patient_id": "patient", "calendar_column_id": "calendar_column"}.get(
                name, name
            )
            form.add_error(target if target in form.fields else None, field_errors)
    else:
        form.add_error(None, exc.detail)


class KalenderView(StaffPageMixin, CalendarPageMixin, TemplateView):
    template_name = "web/kalender/kalender.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        organisation = self.organisation
        zone = organisation.zone
        today = organisation.today()
        query = CalendarNavigationForm(self.request.GET, organisation=organisation)
        query.is_valid()
        if "spalte" in query.errors:
            raise Http404
        day = query.value("datum") or today
        column = query.value("spalte")
        view = query.value("ansicht") or "tag"
        columns = list(columns_of(organisation))
        if view == "woche" and column is None and columns:
            column = columns[0]
        if view == "woche" and column is not None:
            first = day - timedelta(days=day.weekday())
            slots = [(first + timedelta(days=n), column) for n in range(7)]
            step = timedelta(days=7)
        else:
            view = "tag"
            slots = [(day, each) for each in ([column] if column else columns)]
            step = timedelta(days=1)
        days = [slot_day for slot_day, _ in slots] or [day]
        window_start = datetime.combine(days[0], time.min, tzinfo=zone)
        window_end = datetime.combine(days[-1] + timedelta(days=1), time.min, tzinfo=zone)
        appointments = calendar_appointments(
            organisation=organisation, start=window_start, end=window_end, calendar_column=column
        )
        grid = build_grid(
            slots=slots, appointments=appointments, zone=zone, colliding=colliding_ids(appointments)
        )
        new_query = {"datum": day.isoformat()}
        if column is not None:
            new_query["spalte"] = str(column.public_id)
        context.update(
            query=CalendarNavigationForm(
                initial={"datum": day, "spalte": column, "ansicht": view},
                organisation=organisation,
            ),
            notices=[error for errors in query.errors.values() for error in errors],
            view=view,
            day=day,
            days=days,
            today=today,
            column=column,
            columns=columns,
            grid=grid,
            previous_url=kalender_path(day - step, column, view),
            next_url=kalender_path(day + step, column, view),
            today_url=kalender_path(today, column, view),
            week_url=kalender_path(day, column or (columns[0] if columns else None), "woche"),
            day_url=kalender_path(day, column),
            new_url=f"/kalender/neu/?{urlencode(new_query)}",
        )
        return context


class PatientOptionsView(StaffPageMixin, CalendarPageMixin, TemplateView):
    """The appointment form's search as you type (htmx): the matching records as
    `<option>`s for the "Akte" list."""

    right = Right.APPOINTMENTS
    template_name = "web/kalender/_patient_options.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        found_patients = patient_search(self.organisation, self.request.GET.get("q", ""))
        context["options"] = [(str(p.public_id), patient_label(p)) for p in found_patients]
        context["select_first"] = len(found_patients) == 1
        return context


class AppointmentFormMixin:
    """Showing the appointment form; the "Suchen" button (without JavaScript)
    shows the search results and keeps what was entered, saving nothing."""

    template_name = ""
    appointment: Appointment | None = None

    def form(self, data=None, initial=None):
        return AppointmentForm(
            data,
            initial=initial,
            organisation=self.organisation,
            appointment=self.appointment,
            found=patient_search(self.organisation, self.search_term()),
        )

    def search_term(self) -> str:
        return (self.request.POST or self.request.GET).get("q", "")

    def searching(self):
        """The form re-shown with the search results, or None when not searching."""
        if "suchen" not in self.request.POST:
            return None
        return self.render_form(self.form(initial=self.request.POST.dict()))

    def render_form(self, form, status: int = 200):
        context = self.get_context_data(form=form, q=self.search_term())
        return self.render_to_response(context, status=status)


class AppointmentCreateView(StaffPageMixin, CalendarPageMixin, AppointmentFormMixin, TemplateView):
    right = Right.APPOINTMENTS
    template_name = "web/kalender/termin_neu.html"

    def get(self, request, *args, **kwargs):
        query = CalendarNavigationForm(request.GET, organisation=self.organisation)
        query.is_valid()
        day = query.value("datum") or self.organisation.today()
        try:
            at = time.fromisoformat(request.GET.get("zeit", ""))
        except ValueError:
            at = time(9)
        initial = {
            "start": datetime.combine(day, at),
            "duration_minutes": 30,
            "calendar_column": query.value("spalte"),
            "patient": request.GET.get("patient"),  # "Neuer Termin" on a record
        }
        return self.render_form(self.form(initial=initial))

    def post(self, request, *args, **kwargs):
        searching = self.searching()
        if searching is not None:
            return searching
        form = self.form(request.POST)
        if form.is_valid():
            try:
                appointment = appointment_create(
                    organisation=self.organisation, actor=request.user, **form.service_fields()
                )
            except DomainError as exc:
                show_domain_error(form, exc)
            else:
                start = appointment.start.astimezone(self.organisation.zone)
                messages.success(
                    request,
                    f"Termin am {start:%d.%m.%Y um %H:%M} für {appointment.patient.display_name} "
                    "angelegt.",
                )
                return redirect(appointment_calendar_path(appointment, self.organisation.zone))
        return self.render_form(form, status=422)


class AppointmentView(StaffPageMixin, CalendarPageMixin, AppointmentFormMixin, TemplateView):
    """The appointment: details, edit form (unless invoiced), cancelling, history."""

    template_name = "web/kalender/termin.html"

    def dispatch(self, request, *args, **kwargs):
        self.appointment_id = kwargs["appointment_id"]
        return super().dispatch(request, *args, **kwargs)

    def load(self) -> Appointment:
        self.appointment = found(
            access_appointment, organisation=self.organisation, public_id=self.appointment_id
        )
        return self.appointment

    def initial(self) -> dict:
        appointment = self.appointment
        return {
            "patient": appointment.patient,
            "calendar_column": appointment.calendar_column,
            "start": appointment.start,
            "duration_minutes": appointment.duration_minutes,
            "service_chain": appointment.service_chain,
            "note": appointment.note,
            "status": appointment.status,
        }

    def get(self, request, *args, **kwargs):
        self.load()
        return self.render_form(self.form(initial=self.initial()))

    def post(self, request, *args, **kwargs):
        appointment = self.load()
        if appointment.invoice_id is not None:
            messages.error(request, lock_reason(appointment))
            return redirect(request.path)
        searching = self.searching()
        if searching is not None:
            return searching
        form = self.form(request.POST)
        if form.is_valid():
            try:
                appointment_update(
                    appointment=appointment, actor=request.user, **form.service_fields()
                )
            except DomainError as exc:
                show_domain_error(form, exc)
            else:
                messages.success(request, "Termin gespeichert.")
                return redirect(request.path)
        return self.render_form(form, status=422)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        appointment = self.appointment
        lock = lock_reason(appointment)
        editable = context["can_write"] and not lock
        status = appointment.status
        context.update(
            appointment=appointment,
            start=appointment.start.astimezone(self.organisation.zone),
            end=appointment.end.astimezone(self.organisation.zone),
            lock=lock,
            form=context.get("form") if editable else None,
            from_doctolib=appointment.source == AppointmentSource.DOCTOLIB,
            doctolib_hint=DOCTOLIB_HINT,
            can_cancel=editable
            and AppointmentStatus.CANCELLED in ALLOWED_TRANSITIONS.get(status, ()),
            history=appointment_history(appointment=appointment),
            calendar_url=appointment_calendar_path(appointment, self.organisation.zone),
        )
        return context


class AppointmentCancelView(StaffPageMixin, CalendarPageMixin, TemplateView):
    """POST only: the appointment's status becomes "abgesagt" (appointments.services)."""

    right = Right.APPOINTMENTS
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        appointment = found(
            access_appointment, organisation=self.organisation, public_id=kwargs["appointment_id"]
        )
        page = f"/termine/{appointment.public_id}/"
        try:
            appointment_update(
                appointment=appointment, actor=request.user, status=AppointmentStatus.CANCELLED
            )
        except AppointmentInvoiced as exc:
            messages.error(request, lock_reason(appointment) or exc.detail)
        except DomainError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, "Der Termin ist abgesagt.")
        return redirect(page)
