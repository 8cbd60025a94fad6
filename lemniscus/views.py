from django.db import connection
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.defaults import server_error as django_server_error

from lemniscus.api import plain_problem


@csrf_exempt  # it changes nothing; a POST to a wrong path is a 404, not a CSRF page
def api_not_found(request, *args, **kwargs):
    """Unknown paths under /api/ answer problem+json, not an HTML page."""
    return plain_problem(404, "not_found", "Not found", "Diesen API-Pfad gibt es nicht.")


def server_error(request, *args, **kwargs):
    if request.path.startswith("/api/"):
        return plain_problem(
            500,
            "server_error",
            "Server error",
            "Ein unerwarteter Fehler ist aufgetreten; er wurde protokolliert.",
        )
    return django_server_error(request)


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
