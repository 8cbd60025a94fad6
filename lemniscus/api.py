"""What every API view shares: problem+json errors, authentication, pagination,
times in the organisation's zone, and the tenant-scoped base viewset."""

import json
import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpResponse
from rest_framework import exceptions, permissions, serializers, viewsets
from rest_framework.response import Response
from rest_framework.views import set_rollback

from lemniscus import errors
from lemniscus.parsers import JSONObjectParser
from lemniscus.tenancy import scoped
from lemniscus.times import TimeError, parse_aware

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"


def problem_body(
    *, status: int, code: str, title: str, detail: str, errors_: dict | None = None, **extra
) -> dict:
    body = {
        "type": f"https://lemniscus.de/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors_:
        body["errors"] = errors_
    body.update(extra)
    return body


def problem_response(status: int, code: str, title: str, detail: str, **kw) -> Response:
    return Response(
        problem_body(status=status, code=code, title=title, detail=detail, **kw),
        status=status,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def plain_problem(status: int, code: str, title: str, detail: str) -> HttpResponse:
    """A problem+json answer outside DRF (unknown API paths, server errors)."""
    body = problem_body(status=status, code=code, title=title, detail=detail)
    return HttpResponse(json.dumps(body), status=status, content_type=PROBLEM_CONTENT_TYPE)


def _flatten(detail) -> dict[str, list[str]]:
    """DRF's nested error detail as {"field": ["message"]}; nested fields dotted."""
    out: dict[str, list[str]] = {}

    def walk(prefix: str, value):
        if isinstance(value, dict):
            for key, inner in value.items():
                name = "non_field_errors" if key == "non_field_errors" and not prefix else key
                walk(f"{prefix}.{name}" if prefix else str(name), inner)
        elif isinstance(value, list):
            if all(not isinstance(v, (dict, list)) for v in value):
                out.setdefault(prefix or "non_field_errors", []).extend(str(v) for v in value)
            else:
                for index, inner in enumerate(value):
                    if inner:
                        walk(f"{prefix}.{index}" if prefix else str(index), inner)
        else:
            out.setdefault(prefix or "non_field_errors", []).append(str(value))

    walk("", detail)
    return out


def _validation_detail(field_errors: dict[str, list[str]]) -> str:
    fields = ", ".join(sorted(field_errors))
    return f"Einige Angaben sind ungültig: {fields}."


def problem_exception_handler(exc, context):
    """Turn every error under the API paths into problem+json with the contract's code."""
    if isinstance(exc, errors.DomainError):
        set_rollback()
        field_errors = exc.errors
        response = problem_response(
            exc.status, exc.code, exc.title, exc.detail, errors_=field_errors, **exc.extra
        )
        if isinstance(exc, errors.RateLimited):
            response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if isinstance(exc, exceptions.ValidationError):
        set_rollback()
        field_errors = _flatten(exc.detail)
        return problem_response(
            422,
            "validation_error",
            "Validation failed",
            _validation_detail(field_errors),
            errors_=field_errors,
        )
    if isinstance(exc, Http404 | exceptions.NotFound):
        return problem_response(404, "not_found", "Not found", errors.NotFound.default_detail)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        response = problem_response(
            401, "token_invalid", "Unauthorized", errors.TokenInvalid.default_detail
        )
        response["WWW-Authenticate"] = 'Bearer realm="api"'
        return response
    if isinstance(exc, DjangoPermissionDenied | exceptions.PermissionDenied):
        detail = str(getattr(exc, "detail", "")) or errors.PermissionDenied.default_detail
        if detail.startswith("CSRF Failed"):
            detail = (
                "Die CSRF-Prüfung ist fehlgeschlagen: Anfragen mit Sitzung brauchen den "
                "CSRF-Token (Kopfzeile X-CSRFToken)."
            )
        return problem_response(403, "permission_denied", "Forbidden", detail)
    if isinstance(exc, exceptions.ParseError):
        return problem_response(
            400,
            "malformed_request",
            "Malformed request",
            "Der Inhalt der Anfrage ist kein gültiges JSON-Objekt.",
        )
    if isinstance(exc, exceptions.MethodNotAllowed):
        return problem_response(
            405,
            "method_not_allowed",
            "Method not allowed",
            f"Die Methode {context['request'].method} ist hier nicht erlaubt.",
        )
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return problem_response(
            415, "unsupported_media_type", "Unsupported media type", "Bitte JSON senden."
        )
    if isinstance(exc, exceptions.NotAcceptable):
        # Errors are problem+json whatever Accept says; a success is JSON.
        return problem_response(
            406, "not_acceptable", "Not acceptable", "Antworten gibt es nur als JSON."
        )
    if isinstance(exc, exceptions.Throttled):
        response = problem_response(
            429, "rate_limited", "Too many requests", "Zu viele Anfragen; bitte kurz warten."
        )
        if exc.wait:
            response["Retry-After"] = str(int(exc.wait) + 1)
        return response
    if isinstance(exc, exceptions.APIException):
        return problem_response(
            exc.status_code, "error", "Error", str(exc.detail) if exc.detail else "Fehler."
        )
    return None  # unexpected: Django's 500 handler answers (see lemniscus.urls)


class LocalDateTimeField(serializers.DateTimeField):
    """ISO 8601 with offset in and out; output in the organisation's zone; a naive
    time is a validation error (zipper-api.md, "Times")."""

    default_error_messages = {
        "naive": "Die Zeit braucht eine Zeitzone (ISO 8601 mit Offset).",
        "invalid": "Keine gültige Zeit (ISO 8601 mit Offset erwartet).",
        "range": "Die Zeit liegt außerhalb von 1900 bis 2200.",
    }

    def to_internal_value(self, value):
        try:
            return parse_aware(value)
        except TimeError as exc:
            self.fail(exc.code)

    def to_representation(self, value):
        if value is None:
            return None
        organisation = self.context.get("organisation")
        if organisation is not None:
            value = value.astimezone(organisation.zone)
        return value.isoformat()


class StringIdField(serializers.UUIDField):
    """Public ids travel as strings."""

    def to_representation(self, value):
        return None if value is None else str(value)


class IsOrganisationMember(permissions.BasePermission):
    """A logged-in user (session or personal token) of an organisation, who has the
    viewset's `read_right` for safe methods and `write_right` for the others."""

    message = "Dafür fehlt Ihnen das Recht."

    def has_permission(self, request, view):
        user = request.user
        if not user or not user.is_authenticated:
            return False
        if getattr(user, "organisation_id", None) is None:
            self.message = "Ihr Benutzer gehört zu keiner Organisation."
            return False
        needed = (
            getattr(view, "read_right", None)
            if request.method in permissions.SAFE_METHODS
            else getattr(view, "write_right", None)
        )
        return needed is None or user.has_right(needed)


class OrganisationViewSet(viewsets.GenericViewSet):
    """Base of every staff API viewset: scoped to the caller's organisation.

    Subclasses implement `scoped_queryset(organisation)` and never override
    `get_queryset`; lookups go by `public_id` and answer 404 for other tenants.
    """

    permission_classes = [IsOrganisationMember]
    parser_classes = [JSONObjectParser]
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    read_right: str | None = None
    write_right: str | None = None
    model = None

    @property
    def organisation(self):
        return self.request.user.organisation

    def scoped_queryset(self, organisation):
        return self.model.objects.all()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.model.objects.none()
        return scoped(self.scoped_queryset(self.organisation), self.organisation)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False) and self.request.user.is_authenticated:
            context["organisation"] = self.organisation
        return context

    def page_output(self, serializer_class, queryset):
        page = self.paginate_queryset(queryset)
        data = serializer_class(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)

    def output(self, serializer_class, instance, status=200, **context):
        data = serializer_class(instance, context={**self.get_serializer_context(), **context}).data
        return Response(data, status=status)

    def validated(self, serializer_class, data, **kwargs) -> dict:
        serializer = serializer_class(data=data, context=self.get_serializer_context(), **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data
