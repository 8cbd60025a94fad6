from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import SessionAuthentication


class SessionAuthentication401(SessionAuthentication):
    """Session auth (with CSRF) that lets unauthenticated calls answer 401, not 403."""

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class SessionScheme401(OpenApiAuthenticationExtension):
    target_class = SessionAuthentication401
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}
