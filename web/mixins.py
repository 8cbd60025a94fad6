"""What every staff page shares: login, the caller's organisation, rights."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect

from lemniscus.errors import DomainError
from organisations.models import Role
from web import sitzung


class StaffPageMixin(LoginRequiredMixin):
    """A page for a logged-in member of an organisation. `right` (an
    organisations.models.Right) is needed for the page; `admin_only` for admins."""

    right: str | None = None
    admin_only = False

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        user = request.user
        if user.organisation_id is None:
            raise PermissionDenied("Ihr Benutzer gehört zu keiner Organisation.")
        if self.admin_only and user.role != Role.ADMIN:
            raise PermissionDenied("Diese Seite sehen nur Organisations-Admins.")
        if self.right and not user.has_right(self.right):
            raise PermissionDenied("Dafür fehlt Ihnen das Recht.")
        self.organisation = user.organisation
        return super().dispatch(request, *args, **kwargs)

    def handle_no_permission(self):
        """Without a session: a script's request (htmx, JSON) gets 401, a page the
        login (saying the session expired when it did), never the login page as a
        fragment."""
        if self.request.user.is_authenticated:
            return super().handle_no_permission()  # 403
        if sitzung.wants_401(self.request):
            return sitzung.expired_response(self.request)
        return sitzung.login_redirect(self.request)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["organisation"] = self.organisation
        return context


def domain_error_message(request, exc: DomainError, fallback_url: str):
    """Show a domain error as a German message and go back."""
    messages.error(request, exc.detail)
    return redirect(fallback_url)


def add_domain_errors(form, exc: DomainError) -> None:
    """A service's refusal shown on the form: each message at its field when the form
    has one, otherwise above the form."""
    fields = (exc.errors or {}).items()
    for name, messages_ in fields:
        form.add_error(name if name in form.fields else None, messages_)
    if not fields:
        form.add_error(None, exc.detail)
