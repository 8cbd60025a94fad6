"""The benchmark baseline (bench/zipper.py): a bare DRF endpoint on the same stack as
the Zipper API (gunicorn, Django middleware, DRF, PostgreSQL) that does one insert and
nothing else: no authentication, no throttling, no sync log. Routed at `bench/insert`
(bench/urls.py) only when `BENCH_BASELINE` is on, so production never exposes it."""

from django.db import IntegrityError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from doctolib_bridge.models import SyncLogEntry
from lemniscus.errors import NotFound
from organisations.models import Organisation


class BenchInsertInput(serializers.Serializer):
    organisation_id = serializers.IntegerField(min_value=1, required=False)


@extend_schema(exclude=True)
class BenchInsertView(APIView):
    """POST: one SyncLogEntry row for `organisation_id` (the internal key, so the
    request does exactly one INSERT) or, without it, for the first organisation."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []
    parser_classes = [JSONParser]

    def post(self, request):
        serializer = BenchInsertInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        organisation_id = serializer.validated_data.get("organisation_id") or (
            Organisation.objects.order_by("pk").values_list("pk", flat=True).first()
        )
        try:
            entry = SyncLogEntry.objects.create(
                organisation_id=organisation_id,
                method="POST",
                endpoint="bench/insert",
                status=201,
                outcome="ok",
            )
        except IntegrityError:  # no such organisation (autocommit: checked right here)
            raise NotFound("Diese Organisation gibt es nicht.") from None
        return Response({"id": entry.pk}, status=201)
