from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from lemniscus.api import IsOrganisationMember
from lemniscus.parsers import JSONObjectParser
from organisations.permissions import IsOrganisationAdmin
from organisations.serializers import PracticeInput, PracticeOutput
from organisations.services import organisation_update_practice


class PracticeView(APIView):
    """The practice's master data as invoices print it (Praxisdaten): every member
    reads it, organisation admins change it."""

    parser_classes = [JSONObjectParser]

    def get_permissions(self):
        admin_only = self.request.method not in ("GET", "HEAD", "OPTIONS")
        return [IsOrganisationAdmin() if admin_only else IsOrganisationMember()]

    @extend_schema(responses=PracticeOutput)
    def get(self, request):
        return Response(PracticeOutput(request.user.organisation).data)

    @extend_schema(request=PracticeInput, responses=PracticeOutput)
    def patch(self, request):
        serializer = PracticeInput(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        organisation = organisation_update_practice(
            organisation=request.user.organisation, data=dict(serializer.validated_data)
        )
        return Response(PracticeOutput(organisation).data)
