"""The cancellation link's pages: GET asks, POST (CSRF-protected form) cancels.
Every refusal is a German page with its own status; none is a 500."""

from django.shortcuts import render
from django.utils import timezone, translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from appointments import notifications


def _page(request, template: str, *, organisation=None, status: int = 200, **context):
    zone = organisation.zone if organisation is not None else timezone.get_current_timezone()
    with translation.override("de"), timezone.override(zone):
        response = render(
            request,
            f"appointments/cancel/{template}",
            {"organisation": organisation, **context},
            status=status,
        )
    # The token is in the URL: keep it out of Referer headers and search engines.
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def cancel(request, token: str):
    try:
        if request.method == "POST":
            appointment = notifications.cancel_via_link(token=token)
            template = "done.html"
        else:
            appointment = notifications.cancellation_target(token=token)
            template = "confirm.html"
    except notifications.LinkRefused as refused:
        return _page(
            request,
            "refused.html",
            organisation=refused.extra.get("organisation"),
            status=refused.status,
            refused=refused,
        )
    return _page(
        request,
        template,
        **notifications.appointment_context(appointment),
    )
