"""Kalender: the calendar (a day of all columns or of one, a week of one column), a
new lemniscus appointment, and an appointment's own page (details, edit form,
cancelling, history). Selectors read, appointments.services writes; domain errors
become German messages or form errors."""

from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import TemplateView

from appointments.models import Appointment, AppointmentSource, AppointmentStatus
from appointments.selectors import (
    access_appointment,
    appointment_history,
    calendar_appointments,
    colliding_ids,
    day_list,
)
from appointments.series import series_create, series_plan
from appointments.services import (
    ALLOWED_TRANSITIONS,
    appointment_cancel,
    appointment_create,
    appointment_update,
    appointment_update_following,
    clashes,
)
from lemniscus.errors import (
    AppointmentInvoiced,
    DomainError,
    NotFound,
    RoomBooked,
    SeriesConflicts,
    ValidationFailed,
)
from lemniscus.text import has_nul
from organisations.models import Right
from organisations.opening_hours import intervals_on, weekday_open
from patients.selectors import patient_list
from web.context_processors import offer_undo
from web.forms_kalender import (
    AppointmentForm,
    CalendarNavigationForm,
    CancelForm,
    MoveForm,
    SeriesForm,
    columns_of,
    patient_label,
)
from web.mixins import StaffPageMixin
from web.views.kalender_grid import DOCTOLIB_MOVE_REASON, build_grid, lock_reason

SEARCH_LIMIT = 20
MAX_UNDO = 100  # appointments one "Rückgängig" restores (a series' following ones)
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
    return f"{reverse('kalender')}?{urlencode(query)}"


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
        if view == "woche":
            # The weekend only when the practice opens then or has appointments then.
            busy = {a.start.astimezone(zone).date() for a in appointments}
            slots = [
                (slot_day, each)
                for slot_day, each in slots
                if slot_day.weekday() < 5
                or weekday_open(organisation, slot_day.weekday())
                or slot_day in busy
            ]
            days = [slot_day for slot_day, _ in slots]
        grid = build_grid(
            slots=slots,
            appointments=appointments,
            zone=zone,
            colliding=colliding_ids(appointments),
            organisation=organisation,
        )
        new_query = {"datum": day.isoformat(), "zurueck": self.request.get_full_path()}
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
            new_url=f"{reverse('kalender-neu')}?{urlencode(new_query)}",
            here=self.request.get_full_path(),
            day_list_url=kalender_path(day, column).replace(
                reverse("kalender"), reverse("kalender-tagesliste"), 1
            ),
            opening=intervals_on(organisation, day),
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


def back_path(request, value: str | None) -> str | None:
    """A page of ours to return to (the view the user came from), or None."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return None
    if not url_has_allowed_host_and_scheme(value, allowed_hosts={request.get_host()}):
        return None
    return value


def warn_overlaps(request, appointments) -> None:
    """A therapist column may be double-booked: say so after saving."""
    zone = request.user.organisation.zone
    texts = []
    for appointment in appointments:
        texts += [clash.detail(zone) for clash in clashes(appointment) if not clash.blocking]
    if texts:
        shown = texts[:3] + ([f"… und {len(texts) - 3} weitere."] if len(texts) > 3 else [])
        messages.warning(request, "Achtung, Doppelbelegung: " + " ".join(shown))


class AppointmentFormMixin:
    """Showing the appointment form; the "Suchen" button (without JavaScript)
    shows the search results and keeps what was entered, saving nothing. `zurueck`
    is the calendar view to return to after saving."""

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

    def back(self) -> str | None:
        return back_path(self.request, (self.request.POST or self.request.GET).get("zurueck"))

    def searching(self):
        """The form re-shown with the search results, or None when not searching."""
        if "suchen" not in self.request.POST:
            return None
        return self.render_form(self.form(initial=self.request.POST.dict()))

    def render_form(self, form, status: int = 200, **extra):
        context = self.get_context_data(form=form, q=self.search_term(), back=self.back(), **extra)
        return self.render_to_response(context, status=status)


class AppointmentCreateView(StaffPageMixin, CalendarPageMixin, AppointmentFormMixin, TemplateView):
    """A new appointment, or a series of them (Serientermin): the series' conflicts
    are listed before anything is saved, with the choice to leave those dates out
    or (in a therapist column) to book them anyway."""

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
        return self.render_form(self.form(initial=initial), series=SeriesForm())

    def render_form(self, form, status: int = 200, **extra):
        extra.setdefault("series", SeriesForm(self.request.POST or None))
        return super().render_form(form, status, **extra)

    def post(self, request, *args, **kwargs):
        searching = self.searching()
        if searching is not None:
            return searching
        form = self.form(request.POST)
        series = SeriesForm(request.POST)
        if form.is_valid() and series.is_valid():
            if series.cleaned_data.get("repeat"):
                return self.create_series(form, series)
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
                warn_overlaps(request, [appointment])
                return redirect(
                    self.back() or appointment_calendar_path(appointment, self.organisation.zone)
                )
        return self.render_form(form, status=422, series=series)

    def create_series(self, form, series_form):
        fields = {**form.service_fields(), **series_form.series_fields()}
        try:
            series, appointments, left_out = series_create(
                organisation=self.organisation, actor=self.request.user, **fields
            )
        except (SeriesConflicts, RoomBooked) as exc:
            fields.pop("on_conflict")
            plan = series_plan(organisation=self.organisation, **fields)
            return self.render_form(
                form,
                status=409,
                series=series_form,
                conflicts=plan.conflicting,
                planned=plan.dates,
                room_conflict=any(d.room_conflict for d in plan.conflicting),
                conflict_detail=exc.detail if isinstance(exc, RoomBooked) else "",
            )
        except DomainError as exc:
            show_domain_error(form, exc)
            return self.render_form(form, status=422, series=series_form)
        first = appointments[0].start.astimezone(self.organisation.zone)
        text = (
            f"Serie mit {len(appointments)} Terminen ab {first:%d.%m.%Y um %H:%M} für "
            f"{series.patient.display_name} angelegt."
        )
        if left_out:
            text += f" {len(left_out)} Termin(e) wegen Überschneidungen ausgelassen."
        messages.success(self.request, text)
        warn_overlaps(self.request, appointments)
        return redirect(
            self.back() or appointment_calendar_path(appointments[0], self.organisation.zone)
        )


class AppointmentView(StaffPageMixin, CalendarPageMixin, AppointmentFormMixin, TemplateView):
    """The appointment: details, edit form (unless invoiced), cancelling, history. A
    change of a series appointment may apply to it and all following ones."""

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
            "room": appointment.room,
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
            following = appointment.series_id and request.POST.get("umfang") == "folgende"
            update = appointment_update_following if following else appointment_update
            try:
                update(appointment=appointment, actor=request.user, **form.service_fields())
            except DomainError as exc:
                show_domain_error(form, exc)
            else:
                messages.success(
                    request,
                    "Dieser und alle folgenden Termine der Serie sind gespeichert."
                    if following
                    else "Termin gespeichert.",
                )
                warn_overlaps(request, [self.load()])
                return redirect(self.back() or request.path)
        return self.render_form(form, status=422)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        appointment = self.appointment
        lock = lock_reason(appointment)
        editable = context["can_write"] and not lock
        status = appointment.status
        calendar_url = appointment_calendar_path(appointment, self.organisation.zone)
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
            can_restore=editable and status == AppointmentStatus.CANCELLED,
            history=appointment_history(appointment=appointment),
            calendar_url=self.back() or calendar_url,
        )
        return context


class AppointmentCancelView(StaffPageMixin, CalendarPageMixin, TemplateView):
    """ "Termin absagen": asks for confirmation and an optional reason (kept in the
    history); for a series also whether the following ones go too. Afterwards the
    page offers to take it back."""

    right = Right.APPOINTMENTS
    template_name = "web/kalender/termin_absagen.html"

    def dispatch(self, request, *args, **kwargs):
        self.appointment = None
        return super().dispatch(request, *args, **kwargs)

    def load(self, appointment_id) -> Appointment:
        self.appointment = found(
            access_appointment, organisation=self.organisation, public_id=appointment_id
        )
        return self.appointment

    def get(self, request, *args, **kwargs):
        self.load(kwargs["appointment_id"])
        return self.render_to_response(self.get_context_data(form=CancelForm()))

    def post(self, request, *args, **kwargs):
        appointment = self.load(kwargs["appointment_id"])
        page = reverse("termin", args=[appointment.public_id])
        back = back_path(request, request.POST.get("zurueck"))
        form = CancelForm(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=422)
        try:
            cancelled = appointment_cancel(
                appointment=appointment,
                actor=request.user,
                reason=form.cleaned_data["reason"],
                and_following=bool(appointment.series_id and form.cleaned_data["following"]),
            )
        except AppointmentInvoiced as exc:
            messages.error(request, lock_reason(appointment) or exc.detail)
            return redirect(page)
        except DomainError as exc:
            messages.error(request, exc.detail)
            return redirect(page)
        start = appointment.start.astimezone(self.organisation.zone)
        text = (
            f"Der Termin am {start:%d.%m.%Y um %H:%M} ist abgesagt."
            if len(cancelled) == 1
            else f"{len(cancelled)} Termine der Serie ab {start:%d.%m.%Y} sind abgesagt."
        )
        offer_undo(
            request,
            text=text,
            url=reverse("termin-absage-zuruecknehmen", args=[appointment.public_id]),
            fields={
                "termine": ",".join(str(row.public_id) for row in cancelled),
                "zurueck": back or page,
            },
        )
        return redirect(back or page)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        appointment = self.appointment
        context.update(
            appointment=appointment,
            start=appointment.start.astimezone(self.organisation.zone),
            back=back_path(self.request, self.request.GET.get("zurueck")),
            page=reverse("termin", args=[appointment.public_id]),
        )
        return context


class AppointmentRestoreView(StaffPageMixin, CalendarPageMixin, View):
    """ "Rückgängig" after a cancellation: the appointments are planned again (a room
    taken in the meantime refuses it, with the reason)."""

    right = Right.APPOINTMENTS
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        ids = [i for i in request.POST.get("termine", "").split(",") if i] or [
            str(kwargs["appointment_id"])
        ]
        back = back_path(request, request.POST.get("zurueck")) or reverse(
            "termin", args=[kwargs["appointment_id"]]
        )
        try:
            with transaction.atomic():
                for public_id in ids[:MAX_UNDO]:
                    appointment = found(
                        access_appointment, organisation=self.organisation, public_id=public_id
                    )
                    appointment_update(
                        appointment=appointment,
                        actor=request.user,
                        status=AppointmentStatus.PLANNED,
                    )
        except DomainError as exc:
            messages.error(request, f"Die Absage wurde nicht zurückgenommen: {exc.detail}")
        else:
            messages.success(
                request, "Die Absage ist zurückgenommen; der Termin ist wieder geplant."
            )
        return redirect(back)


class AppointmentMoveView(StaffPageMixin, CalendarPageMixin, View):
    """Drag and drop in the calendar (kalender.js): the new start, duration and
    column, checked by appointments.services like any change. JSON in both
    directions' sense: the answer says what happened and, on success, the previous
    values for "Rückgängig"; a refusal is 409 or 422 with the German reason."""

    right = Right.APPOINTMENTS
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        organisation = self.organisation
        try:
            appointment = access_appointment(
                organisation=organisation, public_id=kwargs["appointment_id"]
            )
        except NotFound:
            return JsonResponse({"detail": "Diesen Termin gibt es nicht mehr."}, status=404)
        form = MoveForm(request.POST, organisation=organisation)
        if not form.is_valid():
            detail = " ".join(e for errors in form.errors.values() for e in errors)
            return JsonResponse({"detail": f"Ungültige Angaben: {detail}"}, status=422)
        zone = organisation.zone
        before = {
            "start": f"{appointment.start.astimezone(zone):%Y-%m-%dT%H:%M}",
            "duration_minutes": appointment.duration_minutes,
            "calendar_column": str(appointment.calendar_column.public_id),
        }
        if appointment.source == AppointmentSource.DOCTOLIB:
            return JsonResponse({"detail": DOCTOLIB_MOVE_REASON}, status=409)
        try:
            moved = appointment_update(
                appointment=appointment,
                actor=request.user,
                start=form.cleaned_data["start"],
                duration_minutes=form.cleaned_data["duration_minutes"],
                calendar_column_id=form.cleaned_data["calendar_column"].public_id,
            )
        except AppointmentInvoiced:
            return JsonResponse({"detail": lock_reason(appointment)}, status=409)
        except DomainError as exc:
            return JsonResponse({"detail": exc.detail}, status=exc.status)
        start, end = moved.start.astimezone(zone), moved.end.astimezone(zone)
        warnings = [clash.detail(zone) for clash in clashes(moved)]
        return JsonResponse(
            {
                "detail": f"{moved.patient.display_name}: {start:%a %d.%m. %H:%M}–{end:%H:%M}, "
                f"{moved.calendar_column.name}.",
                "warnings": warnings,
                "undo": before,
            }
        )


class DayListView(StaffPageMixin, CalendarPageMixin, TemplateView):
    """Tagesliste: a printable list of one day per column (time, patient, chain,
    note), of one column or of all."""

    template_name = "web/kalender/tagesliste.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        organisation = self.organisation
        zone = organisation.zone
        query = CalendarNavigationForm(self.request.GET, organisation=organisation)
        query.is_valid()
        if "spalte" in query.errors:
            raise Http404
        day = query.value("datum") or organisation.today()
        column = query.value("spalte")
        columns = [column] if column else list(columns_of(organisation))
        start = datetime.combine(day, time.min, tzinfo=zone)
        rows = day_list(
            organisation=organisation,
            start=start,
            end=start + timedelta(days=1),
            columns=columns,
        )
        sections = []
        for each in columns:
            entries = [
                {
                    "appointment": a,
                    "start": a.start.astimezone(zone),
                    "end": a.end.astimezone(zone),
                    "room": a.room.name if a.room_id and a.room_id != each.pk else "",
                    "column": a.calendar_column.name if a.calendar_column_id != each.pk else "",
                }
                for a in rows
                if each.pk in (a.calendar_column_id, a.room_id)
            ]
            sections.append({"column": each, "entries": entries})
        context.update(
            day=day,
            column=column,
            sections=sections,
            calendar_url=kalender_path(day, column),
            query=CalendarNavigationForm(
                initial={"datum": day, "spalte": column}, organisation=organisation
            ),
        )
        return context
