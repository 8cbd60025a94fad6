"""OpenAPI documentation of the Zipper API: every operation lists the problem+json
answers it can give (the shared `Problem` body, lemniscus.schema), and the main ones
carry examples from the contract."""

from drf_spectacular.utils import OpenApiExample, extend_schema

from lemniscus.schema import problem_responses

TAG = ["Zipper API"]


ERRORS = {
    400: "`malformed_request`: the body is not a JSON object",
    401: "`token_invalid`: missing, unknown, malformed, revoked or other-kind token",
    403: "`plan_required`: the plan does not include the Doctolib integration",
    404: "`not_found` / `patient_not_linked`",
    409: "`link_conflict`, `appointment_invoiced` or `transfer_expired`",
    413: "`payload_too_large`: body over 256 KiB",
    422: "`validation_error`, `patient_not_linked` or `idempotency_key_reused`",
    429: "`rate_limited`: over the organisation's budget; see `Retry-After`",
}
ALWAYS = (401, 403, 429)
WRITES = (400, 413, 422)

PROBLEM_EXAMPLE = OpenApiExample(
    "Patient not linked",
    value={
        "type": "https://lemniscus.de/problems/patient_not_linked",
        "title": "Patient not linked",
        "status": 404,
        "detail": "Dieser Doctolib-Patient ist mit keiner Akte in lemniscus verknüpft.",
        "code": "patient_not_linked",
        "link_url": "https://praxis.example/akten/verknuepfen/?doctolib_patient_id=dp-1",
    },
    response_only=True,
    status_codes=["404"],
)


def zipper_schema(*, summary, responses, errors=(), request=None, examples=(), **kwargs):
    """extend_schema for a Zipper operation, with its problem answers."""
    documented = dict(responses) if isinstance(responses, dict) else {200: responses}
    documented.update(problem_responses({*ALWAYS, *errors}, ERRORS))
    return extend_schema(
        tags=TAG,
        summary=summary,
        request=request,
        responses=documented,
        examples=list(examples),
        **kwargs,
    )


APPOINTMENT_PAYLOAD = {
    "doctolib_patient_id": "dp-4711",
    "agenda": {"id": "ag-12", "name": "Frau Weber"},
    "visit_motive": {"name": "Osteopathie", "sync_id": "#Osteo"},
    "start": "2026-11-20T09:00:00+01:00",
    "duration_minutes": 45,
    "note": "Knie links",
}

PUSH_EXAMPLES = [
    OpenApiExample("Payload", value=APPOINTMENT_PAYLOAD, request_only=True),
    OpenApiExample(
        "Created",
        value={
            "appointment_id": "5b0c6c1e-2f7d-4e59-9a0e-3f1d2c4b5a69",
            "doctolib_appointment_id": "da-991",
            "outcome": "created",
            "url": "https://praxis.example/termine/5b0c6c1e-2f7d-4e59-9a0e-3f1d2c4b5a69/",
            "calendar_url": "https://praxis.example/kalender/?datum=2026-11-20&spalte=8d6f",
            "calendar_column": {"id": "8d6f0a52-93c1-4d5e-b7a2-1c0e9f3d4a21", "name": "Frau Weber"},
            "service_chain": {
                "id": "1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b",
                "description": "Osteopathie",
            },
            "service_chain_match": "sync_id",
            "warnings": [],
        },
        response_only=True,
        status_codes=["201"],
    ),
]

PATIENT_EXAMPLES = [
    OpenApiExample(
        "Take in",
        value={
            "doctolib_patient_id": "dp-4711",
            "merge_into": None,
            "salutation": "female",
            "first_name": "Anna",
            "last_name": "Müller",
            "birth_date": "1980-02-03",
            "mobile_phone": "+491711234567",
            "landline_phone": None,
            "email": "anna@example.org",
            "street": "Seeweg 1",
            "postal_code": "12345",
            "city": "Berlin",
        },
        request_only=True,
    ),
    OpenApiExample(
        "Merged",
        value={
            "patient_id": "c3a1b2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
            "doctolib_patient_id": "dp-4711",
            "outcome": "merged",
            "url": "https://praxis.example/akten/c3a1b2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d/",
            "applied": ["mobile_phone", "email"],
            "to_doctolib": ["street"],
        },
        response_only=True,
        status_codes=["200"],
    ),
]
