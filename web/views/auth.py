from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import reverse_lazy


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
