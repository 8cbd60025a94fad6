"""API permissions that know the organisation's roles (the core's
`lemniscus.api.IsOrganisationMember` knows only members and their rights)."""

from lemniscus.api import IsOrganisationMember
from organisations.models import Role


class IsOrganisationAdmin(IsOrganisationMember):
    """An organisation admin (the role), whatever the rights: e.g. the handover export."""

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        if request.user.role != Role.ADMIN:
            self.message = "Das dürfen nur Organisations-Admins."
            return False
        return True
