"""The staff session's idle timeout and what a page learns about it (issue 13).

A session ends `SESSION_COOKIE_AGE` seconds after the last request of its user
(`SESSION_IDLE_MINUTES`, settings). Every request of a logged-in user extends it,
except `/sitzung/status/`, which only says how long it has left: the page's script
(web/static/web/sitzung.js) asks it before it announces the expiry, and asking must
not keep the session alive. Requests that a script makes (htmx, or `Accept:
application/json`) of a user whose session is gone are answered 401, never with the
login page."""

import time
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.contrib.auth.views import redirect_to_login
from django.dispatch import receiver
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.crypto import salted_hmac
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

EXPIRES_KEY = "sitzung_bis"  # in the session: when it ends (Unix seconds)
SECONDS_HEADER = "X-Sitzung-Sekunden"  # on every answer to a logged-in user
EXPIRED_TEXT = "Ihre Sitzung ist abgelaufen. Bitte melden Sie sich erneut an."
EXPIRED_PARAM = "abgelaufen"


def _status_path() -> str:
    return reverse("sitzung_status")


REFRESH_SECONDS = 60  # a request moves the end at most this often (a tenth of short timeouts)


def _extend(session) -> None:
    session[EXPIRES_KEY] = int(time.time()) + settings.SESSION_COOKIE_AGE


def seconds_left(session) -> int:
    ends = session.get(EXPIRES_KEY)
    if ends is None:
        return settings.SESSION_COOKIE_AGE
    return max(0, int(ends - time.time()))


@receiver(user_logged_in)
def _session_starts(sender, request, user, **kwargs):
    """A new session ends SESSION_COOKIE_AGE from its login (saved with the login)."""
    if request is not None and hasattr(request, "session"):
        _extend(request.session)


class SessionIdleMiddleware:
    """A logged-in user's request moves the session's end to now + SESSION_COOKIE_AGE
    (saving the session, so that its row and cookie say the same; at most once a
    minute, not a write per request), and the answer says how many seconds are left.
    The status view is left out: asking must not extend."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or request.path == _status_path():
            return self.get_response(request)
        age = settings.SESSION_COOKIE_AGE
        ends = request.session.get(EXPIRES_KEY)
        if ends is None or time.time() + age - ends >= min(REFRESH_SECONDS, age // 10):
            _extend(request.session)
        response = self.get_response(request)
        if getattr(request, "user", None) is not None and request.user.is_authenticated:
            response[SECONDS_HEADER] = str(seconds_left(request.session))
        return response


def context(request):
    """Template context: what <body> tells sitzung.js (only for a logged-in user)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "sitzung_sekunden": seconds_left(request.session),
        # whose typed input sessionStorage holds, without naming the user
        "sitzung_benutzer": salted_hmac("web.sitzung", str(user.pk)).hexdigest()[:16],
    }


@never_cache
@require_GET
def status(request):
    """{"angemeldet": bool, "sekunden": seconds left}. Does not extend the session."""
    if not request.user.is_authenticated:
        return JsonResponse({"angemeldet": False, "sekunden": 0})
    return JsonResponse({"angemeldet": True, "sekunden": seconds_left(request.session)})


def wants_401(request) -> bool:
    """A script asked (htmx, or fetch/XHR for JSON): it gets 401, not the login page."""
    return "HX-Request" in request.headers or "application/json" in request.headers.get(
        "Accept", ""
    )


def had_session(request) -> bool:
    """The browser sent a session cookie that no longer names a session: it expired
    (or was ended elsewhere). After a logout the cookie is gone."""
    return settings.SESSION_COOKIE_NAME in request.COOKIES and not request.user.is_authenticated


def login_url(next_path: str, *, expired: bool) -> str:
    query = {"next": next_path}
    if expired:
        query[EXPIRED_PARAM] = "1"
    return f"{settings.LOGIN_URL}?{urlencode(query)}"


def expired_response(request) -> HttpResponse:
    """401 for a script's request of a user without a session. The login URL leads
    back to the page the script runs on (htmx says which: HX-Current-URL)."""
    current = urlsplit(request.headers.get("HX-Current-URL", ""))
    page = current.path + (f"?{current.query}" if current.query else "")
    if not page or not page.startswith("/") or page.startswith("//"):
        page = request.get_full_path()
    url = login_url(page, expired=True)
    if "application/json" in request.headers.get("Accept", ""):
        response = JsonResponse(
            {"code": "session_expired", "detail": EXPIRED_TEXT, "login_url": url}, status=401
        )
    else:
        response = HttpResponse(EXPIRED_TEXT, status=401, content_type="text/plain; charset=utf-8")
    response["WWW-Authenticate"] = 'Session realm="lemniscus"'
    response["Cache-Control"] = "no-store"
    return response


def login_redirect(request):
    """A page asked for without a session: to the login, back here afterwards. A form
    sent (POST) or a stale session cookie means the session ended: the login says so."""
    expired = request.method == "POST" or had_session(request)
    if not expired:
        return redirect_to_login(request.get_full_path())
    return redirect_to_login(request.get_full_path(), f"{settings.LOGIN_URL}?{EXPIRED_PARAM}=1")
