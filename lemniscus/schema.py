"""OpenAPI documentation both APIs share: the one problem+json body every error is
answered with (lemniscus.api.problem_body), and which error answers an operation
documents.

A view whose operations name their own error answers sets `documents_own_problems`
(the Zipper API does, per the contract's table): they keep exactly those. Every other
operation (the staff API) gets the answers the one exception handler can give it, by
a rule on the operation's shape (`ApiAutoSchema.default_problem_statuses`), plus any
it names itself (e.g. 413 for an upload).
"""

from django.core.exceptions import FieldDoesNotExist
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from lemniscus.api import PROBLEM_CONTENT_TYPE

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class Problem(serializers.Serializer):
    """RFC 9457 problem details, as every error of both APIs is answered
    (`application/problem+json`). Some codes add members of their own (RFC 9457
    extension members), e.g. `link_url` with `patient_not_linked`, `appointment_id`
    and `url` with `transfer_expired`, `duplicates` with `possible_duplicate`,
    `retain_until` with `retention_required`."""

    type = serializers.URLField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField(help_text="A sentence a person understands (German).")
    code = serializers.CharField(help_text="The contract's error code.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Field errors: {field: [message]}; only with field errors.",
    )


# The staff API's answers (staff-api.md: the Zipper API's codes and order of checks).
STAFF_ERRORS = {
    400: "`malformed_request`: the body is not a JSON object",
    401: "`token_invalid`: no session and no valid personal API token",
    403: "`permission_denied`: a right or role is missing, or the CSRF check failed",
    404: "`not_found`: no such object in this organisation (or a page past the end)",
    409: "a conflict with the object's state; `code` names it (e.g. `invalid_status`)",
    413: "`payload_too_large`",
    422: "`validation_error` (`errors` names the fields) or the code the resource names",
    429: "`rate_limited`: too many failed tokens from this address; see `Retry-After`",
}


def problem_responses(statuses, descriptions=STAFF_ERRORS) -> dict:
    """extend_schema `responses` entries: the problem body for each status."""
    return {
        (status, PROBLEM_CONTENT_TYPE): OpenApiResponse(Problem, description=descriptions[status])
        for status in sorted(statuses)
    }


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, plus the problem answers of each operation."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response" or getattr(self.view, "documents_own_problems", False):
            return responses
        missing = self.default_problem_statuses() - {int(code) for code in responses}
        for (status, media_type), response in problem_responses(missing).items():
            responses[str(status)] = self._get_response_for_code(
                response, str(status), [media_type], direction
            )
        return dict(sorted(responses.items()))

    def default_problem_statuses(self) -> set[int]:
        """What the exception handler can answer for an operation of this shape:
        401, 403 and 429 anywhere (the token, the right, failed tokens per address);
        404 for an id in the path, an id in the body that names no object, or a page
        past the end of a list; 400 for a body that is not JSON; 422 for field errors
        in the body or the query (a filter, `page_size`) and for a write the services
        refuse as invalid; 409 for a write that the object's state can refuse."""
        statuses = {401, 403, 429}
        has_body = self.method in BODY_METHODS and bool(self._get_request_body())
        is_list = self.method == "GET" and self._is_list_view() and self._get_paginator()
        if "{" in self.path or has_body or is_list:
            statuses.add(404)
        if has_body:
            statuses.add(400)
        if any(p.get("in") == "query" for p in self._get_parameters()):
            statuses.add(422)
        if self.method in WRITE_METHODS:
            statuses |= {409, 422}
        return statuses


class LocalDateTimeFieldExtension(OpenApiSerializerFieldExtension):
    """A time in the organisation's zone (lemniscus.api.LocalDateTimeField) answers
    null for a missing time: over a nullable column of a ModelSerializer's model
    (`issued_at`, `archived_at`, …) it is documented nullable, as it is answered."""

    target_class = "lemniscus.api.LocalDateTimeField"

    def map_serializer_field(self, auto_schema, direction):
        schema = build_basic_type(OpenApiTypes.DATETIME)
        if not self.target.allow_null and _over_nullable_column(self.target):
            schema["nullable"] = True
        return schema


def _over_nullable_column(field) -> bool:
    model = getattr(getattr(field.parent, "Meta", None), "model", None)
    if model is None or not field.source or "." in field.source or field.source == "*":
        return False
    try:
        return model._meta.get_field(field.source).null
    except FieldDoesNotExist:
        return False
