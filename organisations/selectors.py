"""Reading an organisation's staff users (Einstellungen → Mitarbeiter)."""

from django.db.models import QuerySet

from lemniscus.errors import NotFound
from lemniscus.tenancy import scoped
from organisations.models import User


def user_list(*, organisation) -> QuerySet[User]:
    """The organisation's members, active ones first, then by name and e-mail."""
    return scoped(User, organisation).order_by("-is_active", "last_name", "first_name", "email")


def access_user(*, organisation, user_id) -> User:
    """A member of the organisation by id; another organisation's (or a support user
    without one) is NotFound like a missing one."""
    try:
        return scoped(User, organisation).get(pk=int(user_id))
    except (User.DoesNotExist, TypeError, ValueError):
        raise NotFound("Diese Person gehört nicht zur Praxis.") from None
