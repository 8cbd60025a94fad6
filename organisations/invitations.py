"""The invitation of a new staff member: an e-mail with a link to set their password.

The link carries a token of InvitationTokenGenerator: Django's password-reset token
with its own salt, so a reset link never works as an invitation and back. It is
valid for PASSWORD_RESET_TIMEOUT and only once (the token covers the password hash,
which setting the password changes). Logs name user ids only, never the address,
the link or the token."""

import logging
from email.utils import formataddr

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from organisations.models import User
from organisations.services import is_invited

logger = logging.getLogger(__name__)


class InvitationTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "organisations.invitations.InvitationTokenGenerator"


invitation_tokens = InvitationTokenGenerator()


def invitation_url(user: User) -> str:
    path = reverse(
        "invitation_accept",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": invitation_tokens.make_token(user),
        },
    )
    return f"{settings.PUBLIC_BASE_URL}{path}"


def validity_text() -> str:
    """PASSWORD_RESET_TIMEOUT in words: "3 Tage", "1 Tag", "12 Stunden"."""
    seconds = settings.PASSWORD_RESET_TIMEOUT
    if seconds >= 86400 and seconds % 86400 == 0:
        days = seconds // 86400
        return "1 Tag" if days == 1 else f"{days} Tage"
    hours = max(1, seconds // 3600)
    return "1 Stunde" if hours == 1 else f"{hours} Stunden"


def send_invitation(*, user_id: int) -> bool:
    """E-mail the invitation to a member who is still invited (active, in an
    organisation, without a password); anyone else gets nothing. True when an e-mail
    went out. Run twice, it sends a second, equally valid link."""
    user = User.objects.select_related("organisation").filter(pk=user_id).first()
    if user is None or user.organisation is None or not user.is_active or not is_invited(user):
        logger.info("invitation not sent, no longer pending user=%s", user_id)
        return False
    organisation = user.organisation
    context = {
        "user": user,
        "organisation": organisation,
        "url": invitation_url(user),
        "validity": validity_text(),
        "login_url": f"{settings.PUBLIC_BASE_URL}{reverse('login')}",
    }
    with translation.override("de"):
        subject = render_to_string("organisations/email/invitation_subject.txt", context)
        text = render_to_string("organisations/email/invitation.txt", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=text,
        from_email=formataddr((organisation.name, settings.DEFAULT_FROM_EMAIL)),
        to=[user.email],
        reply_to=[organisation.email] if organisation.email else None,
    )
    message.send()
    logger.info("invitation sent user=%s", user.pk)
    return True
