from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import reverse_lazy

from web import sitzung
from web.forms import LoginForm


class LoginView(auth_views.LoginView):
    """The staff login. Reached from a session that expired (the redirect says
    `?abgelaufen=1`, or the browser still sends the ended session's cookie), it says so
    and that the typed input is kept (web/static/web/sitzung.js restores it)."""

    template_name = "web/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        request = self.request
        expired = sitzung.EXPIRED_PARAM in request.GET or (
            request.method == "GET" and sitzung.had_session(request)
        )
        return super().get_context_data(session_expired=expired, **kwargs)


class PasswordResetView(auth_views.PasswordResetView):
    """The mailed link is built on PUBLIC_BASE_URL, never on the request's Host header."""

    template_name = "web/password_reset.html"
    email_template_name = "web/password_reset_email.txt"
    subject_template_name = "web/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")

    def form_valid(self, form):
        base = urlsplit(settings.PUBLIC_BASE_URL)
        self.extra_email_context = {"domain": base.netloc, "protocol": base.scheme}
        return super().form_valid(form)
