from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from tokens import throttle
from tokens.models import TokenKind
from tokens.services import token_authenticate


def bearer_from(request) -> str | None:
    """The bearer token of the Authorization header; "" when the header is there but
    is not a bearer token; None when there is no header."""
    header = request.META.get("HTTP_AUTHORIZATION")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return ""
    return value.strip()


class PersonalTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer lmn_api_…` acts as the token's user. Any other token
    (a Doctolib token included) is 401 `token_invalid`."""

    def authenticate(self, request):
        raw = bearer_from(request)
        if raw is None:
            return None
        throttle.refuse_if_over(request)
        token = token_authenticate(raw=raw, kind=TokenKind.API)
        if token is None or not token.user.is_active:
            throttle.record_failure(request)
            raise exceptions.AuthenticationFailed()
        return token.user, token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class PersonalTokenScheme(OpenApiAuthenticationExtension):
    target_class = PersonalTokenAuthentication
    name = "personalToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Personal API token (`lmn_api_…`) from token management.",
        }
