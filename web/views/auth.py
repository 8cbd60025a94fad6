from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import SetPasswordForm
from django.urls import reverse_lazy

from organisations.invitations import invitation_tokens
from organisations.services import user_accept_invitation
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


class InvitationPasswordForm(SetPasswordForm):
    """Sets the password through organisations.services (logged in the Protokoll)."""

    def save(self, commit=True):
        return user_accept_invitation(user=self.user, password=self.cleaned_data["new_password1"])


class InvitationAcceptView(auth_views.PasswordResetConfirmView):
    """The invitation e-mail's link (organisations.invitations): the new member sets
    their password, once, within PASSWORD_RESET_TIMEOUT; then they log in. Only for an
    active member of an organisation; a password-reset token does not work here."""

    template_name = "web/invitation_accept.html"
    token_generator = invitation_tokens
    form_class = InvitationPasswordForm
    success_url = reverse_lazy("password_reset_complete")

    def get_user(self, uidb64):
        user = super().get_user(uidb64)
        if user is None or user.organisation_id is None or not user.is_active:
            return None
        return user
