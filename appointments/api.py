from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.response import Response

from appointments import selectors, services
from appointments.filters import AppointmentFilter
from appointments.models import Appointment, AppointmentSeries, CalendarColumn
from appointments.serializers import (
    AppointmentInput,
    AppointmentOutput,
    CalendarColumnInput,
    CalendarColumnOutput,
    SeriesInput,
    SeriesOutput,
    SeriesPreviewOutput,
)
from appointments.series import series_create, series_plan
from lemniscus.api import OrganisationViewSet
from lemniscus.errors import ValidationFailed
from organisations.models import Right


@extend_schema_view(
    list=extend_schema(responses=CalendarColumnOutput(many=True)),
    retrieve=extend_schema(responses=CalendarColumnOutput),
    create=extend_schema(request=CalendarColumnInput, responses={201: CalendarColumnOutput}),
    partial_update=extend_schema(request=CalendarColumnInput, responses=CalendarColumnOutput),
    destroy=extend_schema(responses={204: None}),
)
class CalendarColumnViewSet(OrganisationViewSet):
    """Calendar columns (therapists and rooms), newest first."""

    model = CalendarColumn
    serializer_class = CalendarColumnOutput
    write_right = Right.APPOINTMENTS
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def scoped_queryset(self, organisation):
        return selectors.calendar_column_list(organisation=organisation)

    def list(self, request):
        return self.page_output(CalendarColumnOutput, self.get_queryset())

    def retrieve(self, request, id=None):
        return self.output(CalendarColumnOutput, self._access())

    def create(self, request):
        data = self.validated(CalendarColumnInput, request.data)
        column = services.calendar_column_create(organisation=self.organisation, **data)
        return self.output(CalendarColumnOutput, column, status=201)

    def partial_update(self, request, id=None):
        column = self._access()
        data = self.validated(CalendarColumnInput, request.data, partial=True)
        return self.output(
            CalendarColumnOutput, services.calendar_column_update(column=column, **data)
        )

    def destroy(self, request, id=None):
        services.calendar_column_delete(column=self._access())
        return Response(status=204)

    def _access(self) -> CalendarColumn:
        return selectors.access_calendar_column(
            organisation=self.organisation, public_id=self.kwargs["id"]
        )


SCOPE = OpenApiParameter(
    "scope",
    str,
    enum=["this", "following"],
    description="following: this appointment and the later open ones of its series.",
)


@extend_schema_view(
    list=extend_schema(responses=AppointmentOutput(many=True)),
    retrieve=extend_schema(responses=AppointmentOutput),
    create=extend_schema(request=AppointmentInput, responses={201: AppointmentOutput}),
    partial_update=extend_schema(
        request=AppointmentInput, responses=AppointmentOutput, parameters=[SCOPE]
    ),
    destroy=extend_schema(responses={204: None}, parameters=[SCOPE]),
)
class AppointmentViewSet(OrganisationViewSet):
    """Appointments, ordered by start. One on a non-cancelled invoice is locked."""

    model = Appointment
    serializer_class = AppointmentOutput
    filterset_class = AppointmentFilter
    write_right = Right.APPOINTMENTS
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def scoped_queryset(self, organisation):
        return selectors.appointment_list(organisation=organisation)

    def list(self, request):
        return self.page_output(AppointmentOutput, self.filter_queryset(self.get_queryset()))

    def retrieve(self, request, id=None):
        return self.output(AppointmentOutput, self._access())

    def create(self, request):
        data = self.validated(AppointmentInput, request.data)
        appointment = services.appointment_create(
            organisation=self.organisation, actor=request.user, **data
        )
        return self.output(AppointmentOutput, appointment, status=201)

    def partial_update(self, request, id=None):
        appointment = self._access()
        following = self._following()
        data = self.validated(AppointmentInput, request.data, partial=True)
        if following:
            services.appointment_update_following(
                appointment=appointment, actor=request.user, **data
            )
        else:
            services.appointment_update(appointment=appointment, actor=request.user, **data)
        return self.output(AppointmentOutput, self._access())

    def destroy(self, request, id=None):
        appointment = self._access()
        if self._following():
            services.appointment_delete_following(appointment=appointment, actor=request.user)
        else:
            services.appointment_delete(appointment=appointment, actor=request.user)
        return Response(status=204)

    def _following(self) -> bool:
        """`?scope=following`: the change applies to this appointment and the later
        open ones of its series ("this" is the default)."""
        scope = self.request.query_params.get("scope", "this")
        if scope not in ("this", "following"):
            raise ValidationFailed(
                "Unbekannter Bereich.", errors={"scope": ["Erlaubt: this, following."]}
            )
        return scope == "following"

    def _access(self) -> Appointment:
        return selectors.access_appointment(
            organisation=self.organisation, public_id=self.kwargs["id"]
        )


@extend_schema_view(
    create=extend_schema(request=SeriesInput, responses={201: SeriesOutput}),
    preview=extend_schema(request=SeriesInput, responses=SeriesPreviewOutput),
)
class AppointmentSeriesViewSet(OrganisationViewSet):
    """Serientermine: POST creates the series and its appointments (each with
    `series_id`); `preview` lists the dates and their conflicts without writing."""

    model = AppointmentSeries
    serializer_class = SeriesOutput
    write_right = Right.APPOINTMENTS
    http_method_names = ["post", "options"]

    def create(self, request):
        data = self.validated(SeriesInput, request.data)
        series, appointments, left_out = series_create(
            organisation=self.organisation, actor=request.user, **data
        )
        return self.output(
            SeriesOutput, series, status=201, appointments=appointments, left_out=left_out
        )

    @action(detail=False, methods=["post"])
    def preview(self, request):
        data = self.validated(SeriesInput, request.data)
        data.pop("on_conflict", None)
        plan = series_plan(organisation=self.organisation, **data)
        zone = self.organisation.zone
        preview = {
            "dates": [planned.as_problem(zone) for planned in plan.dates],
            "skipped_closed": plan.skipped_closed,
        }
        return self.output(SeriesPreviewOutput, preview)
