"""Logins and logouts in the Protokoll: Django's auth signals are the one place every
way in (the staff pages, the admin) passes. Only members of an organisation are
logged; a failed login only when the address typed is a member's, and never the
address or password typed (credentials arrive with the password masked, but an
unknown address could be anything, even someone's password)."""

from django.contrib.auth import get_user_model

from audit.actions import Action
from audit.services import audit_record


def _member(user):
    return user if user is not None and getattr(user, "organisation_id", None) else None


def on_logged_in(sender, request, user, **kwargs):
    if member := _member(user):
        audit_record(organisation=member.organisation, actor=member, action=Action.LOGIN)


def on_logged_out(sender, request, user, **kwargs):
    if member := _member(user):
        audit_record(organisation=member.organisation, actor=member, action=Action.LOGOUT)


def on_login_failed(sender, credentials, request=None, **kwargs):
    User = get_user_model()
    typed = credentials.get(User.USERNAME_FIELD) or credentials.get("username")
    if not isinstance(typed, str) or not typed.strip():
        return
    user = (
        User.objects.select_related("organisation")
        .filter(email__iexact=typed.strip(), organisation__isnull=False)
        .first()
    )
    if user is not None:
        audit_record(organisation=user.organisation, actor=user, action=Action.LOGIN_FAILED)
