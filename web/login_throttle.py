"""Failed logins per client address (issue 12), beside django-axes' lock per e-mail
address and client address: spraying many e-mail addresses from one address is
slowed too. After LOGIN_FAILURES_PER_ADDRESS failed logins from one address within
15 minutes, its logins (the staff login and the admin's) answer 429 with the German
lock page until those 15 minutes are over; the limit is high enough for a practice
whose staff share one address."""

from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver
from django.shortcuts import render
from django.urls import reverse

from lemniscus.throttle import FailureLimit

LOGIN_FAILURES_PER_ADDRESS = 30
FAILED_LOGINS = FailureLimit(name="login-fail", limit=LOGIN_FAILURES_PER_ADDRESS, window=15 * 60)


@receiver(user_login_failed)
def count_failed_login(sender, credentials=None, request=None, **kwargs):
    if request is not None:
        FAILED_LOGINS.record(request)


class LoginThrottleMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "POST" and request.path in _login_paths():
            wait = FAILED_LOGINS.over(request)
            if wait:
                response = render(request, "web/locked.html", status=429)
                response["Retry-After"] = str(wait)
                return response
        return self.get_response(request)


def _login_paths() -> tuple[str, ...]:
    return (reverse("login"), reverse("admin:login"))
