"""Zipper API v1 endpoints (zipper-api.md). Each view translates: input serializer →
service → output serializer (the one the schema documents for that status); errors
are domain errors, answered as problem+json."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response

from appointments.external import PushOutcome
from appointments.models import Appointment
from doctolib_bridge import feed, services
from doctolib_bridge.appointment_push import (
    access_transfer,
    appointment_push,
    transfer_commit,
    transfer_stage,
)
from doctolib_bridge.zipper.base import ZipperView
from doctolib_bridge.zipper.schema import (
    PATIENT_EXAMPLES,
    PROBLEM_EXAMPLE,
    PUSH_EXAMPLES,
    WRITES,
    zipper_schema,
)
from doctolib_bridge.zipper.serializers import (
    AppointmentPayloadInput,
    LinkInput,
    PatientSyncOutput,
    PatientTakeInInput,
    SuggestionQuery,
    TransferInput,
    ZipperAppointmentOutput,
    ZipperChangesOutput,
    ZipperConnectionOutput,
    ZipperLinkOutput,
    ZipperPatientFields,
    ZipperPatientOutput,
    ZipperPatientPushOutput,
    ZipperPushOutput,
    ZipperSuggestionsOutput,
    ZipperTransferOutput,
)
from lemniscus import errors, page_urls, serializer_reuse
from lemniscus.tenancy import scoped
from lemniscus.text import is_ascii_number
from patients.selectors import patient_suggestions


def _validated(serializer_class, data, **context):
    serializer = serializer_class(data=data, context=context)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _answer(serializer_class, instance, status=200, **context) -> Response:
    """The answer, rendered by the output serializer the schema documents for it."""
    return Response(serializer_class(instance, context=context).data, status=status)


def _listing(names: list[str]) -> str:
    return ", ".join(names) if names else "nichts"


class ConnectionView(ZipperView):
    endpoint = "GET /connection"

    @zipper_schema(summary="Connection check", responses=ZipperConnectionOutput)
    def get(self, request):
        self.log_detail = "Verbindung geprüft."
        return _answer(ZipperConnectionOutput, self.organisation)


class SuggestionsView(ZipperView):
    endpoint = "GET /patient-suggestions"

    @zipper_schema(
        summary="Vorschlags-Patient search",
        errors=(422,),
        parameters=[
            OpenApiParameter("last_name", OpenApiTypes.STR, required=True),
            OpenApiParameter("first_name", OpenApiTypes.STR),
            OpenApiParameter("birth_date", OpenApiTypes.DATE),
        ],
        responses=ZipperSuggestionsOutput,
    )
    def get(self, request):
        params = _validated(SuggestionQuery, request.query_params)
        patients = patient_suggestions(
            organisation=self.organisation,
            last_name=params["last_name"],
            first_name=params.get("first_name", ""),
            birth_date=params.get("birth_date"),
        )
        self.log_detail = f"{len(patients)} Vorschläge gefunden."
        return _answer(ZipperSuggestionsOutput, {"results": patients})


class PatientsView(ZipperView):
    endpoint = "POST /patients"

    @zipper_schema(
        summary="Take a Doctolib patient into lemniscus (create, merge or confirm the link)",
        errors=(*WRITES, 404, 409),
        examples=PATIENT_EXAMPLES,
        request=PatientTakeInInput,
        responses={200: PatientSyncOutput, 201: PatientSyncOutput},
    )
    def post(self, request):
        data = dict(_validated(PatientTakeInInput, request.data))
        doctolib_patient_id = data.pop("doctolib_patient_id")
        merge_into = data.pop("merge_into", None)

        def work():
            result = services.patient_take_in(
                organisation=self.organisation,
                doctolib_patient_id=doctolib_patient_id,
                merge_into=merge_into,
                doctolib=data,
            )
            self.log_detail = (
                f"Doctolib-Patient {doctolib_patient_id}: Verknüpfung {result.outcome}; "
                f"übernommen: {_listing(result.applied)}; "
                f"an Doctolib: {_listing(result.to_doctolib)}."
            )
            if result.duplicates:
                self.log_detail += f" Mögliche Dublette von Akte {', '.join(result.duplicates)}."
            status = 201 if result.outcome == services.Outcome.CREATED else 200
            return _answer(PatientSyncOutput, result, status=status)

        return self.write(request, work)


class PatientDetailView(ZipperView):
    endpoint = "/patients/{doctolib_patient_id}"
    path_ids = ("doctolib_patient_id",)

    def _linked(self, doctolib_patient_id, lock=False):
        try:
            return services.linked_patient(
                organisation=self.organisation,
                doctolib_patient_id=doctolib_patient_id,
                lock=lock,
            )
        except errors.PatientNotLinked as exc:
            exc.extra["link_url"] = page_urls.patient_link_url(doctolib_patient_id)
            raise

    @zipper_schema(
        summary="Patienty-Akte in lemniscus öffnen",
        errors=(404, 422),
        examples=[PROBLEM_EXAMPLE],
        responses=ZipperPatientOutput,
    )
    def get(self, request, doctolib_patient_id):
        patient = self._linked(doctolib_patient_id)
        self.log_detail = f"Akte zu Doctolib-Patient {doctolib_patient_id} geöffnet."
        return _answer(ZipperPatientOutput, patient)

    @zipper_schema(
        summary="Doctolib's current view of a linked patient",
        errors=(*WRITES, 404),
        request=ZipperPatientFields,
        responses=ZipperPatientPushOutput,
    )
    def put(self, request, doctolib_patient_id):
        self._linked(doctolib_patient_id)  # 404 before the body is validated
        data = _validated(ZipperPatientFields, request.data)

        def work():
            result = services.patient_push(
                organisation=self.organisation,
                doctolib_patient_id=doctolib_patient_id,
                doctolib=dict(data),
            )
            self.log_detail = (
                f"Doctolib-Patient {doctolib_patient_id} abgeglichen; übernommen: "
                f"{_listing(result.applied)}; an Doctolib: {_listing(result.to_doctolib)}."
            )
            return _answer(ZipperPatientPushOutput, result)

        return self.write(request, work)

    @zipper_schema(
        summary="Remove the link (the record stays)", responses={204: None}, errors=(404, 422)
    )
    def delete(self, request, doctolib_patient_id):
        def work():
            self._linked(doctolib_patient_id)
            services.link_remove(
                organisation=self.organisation, doctolib_patient_id=doctolib_patient_id
            )
            self.log_detail = f"Verknüpfung mit Doctolib-Patient {doctolib_patient_id} entfernt."
            return Response(status=204)

        return self.write(request, work)


class LinksView(ZipperView):
    endpoint = "POST /links"

    @zipper_schema(
        summary="A record sent from lemniscus now exists in Doctolib",
        errors=(*WRITES, 404, 409),
        request=LinkInput,
        responses={200: ZipperLinkOutput, 201: ZipperLinkOutput},
    )
    def post(self, request):
        data = _validated(LinkInput, request.data)

        def work():
            patient, created = services.link_create(
                organisation=self.organisation,
                patient_id=data["patient_id"],
                doctolib_patient_id=data["doctolib_patient_id"],
            )
            self.log_detail = f"Akte mit Doctolib-Patient {patient.doctolib_patient_id} " + (
                "verknüpft." if created else "war schon verknüpft."
            )
            return _answer(ZipperLinkOutput, patient, status=201 if created else 200)

        return self.write(request, work)


class ChangesView(ZipperView):
    endpoint = "GET /changes"

    @zipper_schema(
        summary="Change feed (lemniscus → Doctolib)",
        errors=(422,),
        parameters=[
            OpenApiParameter("after", OpenApiTypes.STR),
            OpenApiParameter("limit", OpenApiTypes.INT),
        ],
        responses=ZipperChangesOutput,
    )
    def get(self, request):
        raw_limit = request.query_params.get("limit", str(feed.DEFAULT_LIMIT))
        if not is_ascii_number(raw_limit) or not 1 <= int(raw_limit) <= feed.MAX_LIMIT:
            raise errors.ValidationFailed(
                "`limit` muss zwischen 1 und 500 liegen.",
                errors={"limit": ["Eine ganze Zahl von 1 bis 500."]},
            )
        after = feed.parse_cursor(request.query_params.get("after"), organisation=self.organisation)
        page = feed.feed_page(organisation=self.organisation, after=after, limit=int(raw_limit))
        self.log_detail = f"{len(page.changes)} Änderungen abgeholt."
        return _answer(ZipperChangesOutput, page)


# -- appointments -------------------------------------------------------------


def _push_detail(plan) -> str:
    words = {"created": "neu angelegt", "updated": "aktualisiert", "unchanged": "unverändert"}
    text = (
        f"Termin {plan.request.external_id} {words[plan.outcome]}; "
        f"Leistungskette: {plan.chain.description if plan.chain else 'keine'} "
        f"({plan.chain_match})."
    )
    if plan.warnings:
        text += f" {len(plan.warnings)} Überschneidung(en) mit lemniscus-Terminen."
    return text


def _push_status(plan) -> int:
    return 201 if plan.outcome == PushOutcome.CREATED else 200


class AppointmentView(ZipperView):
    endpoint = "/appointments/{doctolib_appointment_id}"
    path_ids = ("doctolib_appointment_id",)

    @zipper_schema(
        summary="Termin in lemniscus speichern (save now)",
        errors=(*WRITES, 409),
        examples=PUSH_EXAMPLES,
        request=AppointmentPayloadInput,
        responses={200: ZipperPushOutput, 201: ZipperPushOutput},
    )
    def put(self, request, doctolib_appointment_id):
        # The hot path: its serializers built once per thread (lemniscus.serializer_reuse).
        payload = dict(serializer_reuse.validated(AppointmentPayloadInput, request.data))

        def work(log):
            plan = appointment_push(
                organisation=self.organisation,
                doctolib_appointment_id=doctolib_appointment_id,
                payload=payload,
                # The sync-log row goes into the push's own statement.
                along=(lambda plan: [log(_push_status(plan), plan.outcome, _push_detail(plan))])
                if log is not None
                else None,
            )
            self.log_detail = _push_detail(plan)
            answer = serializer_reuse.represented(
                ZipperPushOutput, plan, organisation=self.organisation
            )
            return Response(answer, status=_push_status(plan))

        return self.write_logged_along(request, work)

    @zipper_schema(
        summary="An appointment held in lemniscus",
        responses=ZipperAppointmentOutput,
        errors=(404, 422),
    )
    def get(self, request, doctolib_appointment_id):
        appointment = (
            scoped(Appointment, self.organisation)
            .select_related("calendar_column")
            .filter(doctolib_appointment_id=doctolib_appointment_id)
            .first()
        )
        if appointment is None:
            raise errors.NotFound("Diesen Doctolib-Termin gibt es in lemniscus nicht.")
        self.log_detail = f"Termin {doctolib_appointment_id} abgefragt."
        return _answer(ZipperAppointmentOutput, appointment, organisation=self.organisation)


class TransfersView(ZipperView):
    endpoint = "POST /transfers"

    @zipper_schema(
        summary="Termin in lemniscus öffnen (stage a transfer for the dialog)",
        errors=WRITES,
        request=TransferInput,
        responses={201: ZipperTransferOutput},
    )
    def post(self, request):
        payload = dict(_validated(TransferInput, request.data))
        doctolib_appointment_id = payload.pop("doctolib_appointment_id")

        def work():
            transfer, plan = transfer_stage(
                organisation=self.organisation,
                doctolib_appointment_id=doctolib_appointment_id,
                payload=payload,
            )
            self.log_detail = f"Übertragung für Termin {doctolib_appointment_id} vorbereitet."
            return _answer(ZipperTransferOutput, {"transfer": transfer, "plan": plan}, 201)

        return self.write(request, work)


class TransferCommitView(ZipperView):
    endpoint = "POST /transfers/{transfer_id}/commit"

    @zipper_schema(
        summary="Commit a staged transfer (as the PUT with the staged payload)",
        errors=(*WRITES, 404, 409),
        request=None,
        responses={200: ZipperPushOutput, 201: ZipperPushOutput},
    )
    def post(self, request, transfer_id):
        transfer = access_transfer(organisation=self.organisation, transfer_id=transfer_id)
        self.log_appointment_id = transfer.doctolib_appointment_id

        def work():
            _, plan = transfer_commit(organisation=self.organisation, transfer_id=transfer_id)
            self.log_detail = "Übertragung gespeichert: " + _push_detail(plan)
            status = 201 if plan.outcome == PushOutcome.CREATED else 200
            return _answer(ZipperPushOutput, plan, status, organisation=self.organisation)

        return self.write(request, work)
