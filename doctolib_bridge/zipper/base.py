"""The Zipper API's request pipeline, in the contract's order of checks:
413, 401, 403, 429, 400, 422 (malformed id in the path), then the view's own
404 / 422 / 409. Every call of a known organisation lands in its sync log before the
answer leaves, rejected ones too."""

import hashlib
import json

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http.request import RawPostDataException
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from doctolib_bridge.models import IdempotencyRecord, SyncLogEntry
from doctolib_bridge.retention import IDEMPOTENCY_TTL
from doctolib_bridge.zipper import ratelimit
from doctolib_bridge.zipper.serializers import is_doctolib_id
from lemniscus import errors
from lemniscus.db import atomic_with_race_retry, insert_row, without_health_check
from lemniscus.parsers import JSONObjectParser
from lemniscus.text import storable
from tokens import throttle
from tokens.authentication import bearer_from
from tokens.models import TokenKind
from tokens.services import cached_organisation, token_authenticate_cached

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class ZipperView(APIView):
    """Base of every Zipper endpoint. Subclasses name `endpoint` (for the sync log) and
    `path_ids` (kwargs holding Doctolib ids), set `self.log_detail` to the sentence
    that explains a success, and run writes through `self.write(...)`."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []
    parser_classes = [JSONObjectParser]
    renderer_classes = [JSONRenderer]
    endpoint = ""
    path_ids: tuple[str, ...] = ()
    documents_own_problems = True  # each operation lists its errors (zipper_schema)

    organisation = None
    log_detail = ""

    # -- the pipeline -------------------------------------------------------------

    def initial(self, request, *args, **kwargs):
        self.format_kwarg = self.get_format_suffix(**kwargs)
        neg = self.perform_content_negotiation(request)
        request.accepted_renderer, request.accepted_media_type = neg
        self._check_size(request)
        raw = bearer_from(request)
        generation, spent, hint = None, None, None
        if raw is not None:
            # One Redis round trip: the failed-token count, the auth generation and,
            # for a token this process has cached, its organisation's budget (spent
            # for the organisation the token had; taken again below if not that one).
            hint = cached_organisation(raw=raw, kind=TokenKind.DOCTOLIB)
            if hint is not None and not hint.has_doctolib_plan:
                hint = None
            along = ratelimit.take_along(hint.orga_id) if hint is not None else None
            generation, spent = throttle.refuse_if_over(request, along=along)
        token = token_authenticate_cached(
            raw=raw or "", kind=TokenKind.DOCTOLIB, generation=generation
        )
        if token is None:
            if raw is not None:
                throttle.record_failure(request)
            raise errors.TokenInvalid()
        self.organisation = token.organisation
        self.token = token
        if not self.organisation.has_doctolib_plan:
            raise errors.PlanRequired()
        if spent is not None and self.organisation.orga_id == hint.orga_id:
            wait = ratelimit.wait_from_reply(spent)
        else:
            wait = ratelimit.take(self.organisation.orga_id)
        if wait:
            raise errors.RateLimited(retry_after=wait)
        if request.method in WRITE_METHODS and request.method != "DELETE":
            try:
                request.data  # noqa: B018 - parse now: a malformed body is a 400 here
            except errors.DomainError:
                raise
            except Exception:
                raise errors.MalformedRequest() from None
        for name in self.path_ids:
            if not is_doctolib_id(kwargs.get(name, "")):
                raise errors.ValidationFailed(
                    "Die Doctolib-Id im Pfad hat nicht die erlaubte Form.",
                    errors={name: ["1–64 Zeichen aus A–Z, a–z, 0–9, _ . : -."]},
                )

    def _check_size(self, request):
        limit = settings.ZIPPER_MAX_BODY_BYTES
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            raise errors.PayloadTooLarge()
        try:
            if len(request._request.body) > limit:
                raise errors.PayloadTooLarge()
        except RawPostDataException:
            pass

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.organisation is not None and not getattr(self, "_recorded", False):
            self._record(request, response)
        return response

    def _work_and_record(self, request, work) -> Response:
        """A write's own answer is logged in the write's transaction (one commit);
        a rejected one after its rollback, by finalize_response."""
        response = work()
        self._record(request, response)
        self._recorded = True
        return response

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        if isinstance(exc, errors.RateLimited):
            response["Retry-After"] = str(exc.retry_after)
        return response

    # -- sync log --------------------------------------------------------------

    def _record(self, request, response):
        data = response.data if isinstance(response.data, dict) else {}
        is_error = response.status_code >= 400
        entry = self.log_entry(
            request,
            status=response.status_code,
            outcome="" if is_error else data.get("outcome", "ok"),
            code=data.get("code", "") if is_error else "",
            detail=data.get("detail", "") if is_error else self.log_detail,
        )
        insert_row(entry)  # on every call: the INSERT is built once, not compiled each time

    def log_entry(self, request, *, status: int, outcome: str, code: str = "", detail: str):
        """The sync-log row of this call (not saved)."""
        body = self._body_for_log(request)
        # What the client sent is recorded as sent, even malformed (NUL made storable).
        return SyncLogEntry(
            organisation=self.organisation,
            method=request.method,
            endpoint=storable(self.endpoint or request.path, 200),
            doctolib_patient_id=storable(
                self.kwargs.get("doctolib_patient_id") or body.get("doctolib_patient_id") or "",
                64,
            ),
            doctolib_appointment_id=storable(
                self.kwargs.get("doctolib_appointment_id")
                or body.get("doctolib_appointment_id")
                or getattr(self, "log_appointment_id", "")
                or "",
                64,
            ),
            status=status,
            outcome=storable(outcome, 32),
            code=storable(code, 40),
            detail=storable(detail),
        )

    @staticmethod
    def _body_for_log(request) -> dict:
        try:
            data = request.data
        except Exception:
            return {}
        return data if isinstance(data, dict) else {}

    # -- writes ----------------------------------------------------------------

    def write(self, request, work) -> Response:
        """Run `work()` (returning a Response) in one transaction, once more if it lost
        a race on a unique constraint (identical requests at once have the effect of
        one). With an `Idempotency-Key`, a repeat with the same body gets the first
        answer again (waiting for it while it is still being answered), another body
        a 422."""
        try:
            return self._write(request, work)
        except BaseException:
            self._recorded = False  # rolled back with the work: finalize_response logs it
            raise

    def write_logged_along(self, request, work) -> Response:
        """A write whose service writes this call's sync-log row in its own statement
        (the appointment push: `work(log)` passes `log(status, outcome, detail)`, the
        unsaved row, to it), in no transaction of ours: the push needs none. With an
        `Idempotency-Key` as `write` (`work(None)`: logged by the transaction)."""
        if "Idempotency-Key" in request.headers:
            return self.write(request, lambda: work(None))

        def log(status: int, outcome: str, detail: str):
            return self.log_entry(request, status=status, outcome=outcome, detail=detail)

        # Its first statement is the plan, a read: no health check needed before it.
        response = without_health_check(work, log)
        self._recorded = True
        return response

    def _write(self, request, work) -> Response:
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return atomic_with_race_retry(self._work_and_record, request, work)
        if not key or len(key) > 255:
            raise errors.ValidationFailed(
                "Der Idempotency-Key muss 1 bis 255 Zeichen lang sein.",
                errors={"Idempotency-Key": ["1 bis 255 Zeichen."]},
            )
        body_hash = hashlib.sha256(
            json.dumps(request.data, sort_keys=True, default=str).encode()
        ).hexdigest()
        identity = {
            "organisation": self.organisation,
            "method": request.method,
            "path": request.path,
            "key": key,
        }
        return atomic_with_race_retry(
            self._idempotent, identity, body_hash, lambda: self._work_and_record(request, work)
        )

    @staticmethod
    def _idempotent(identity: dict, body_hash: str, work) -> Response:
        IdempotencyRecord.objects.filter(
            **identity, created_at__lt=timezone.now() - IDEMPOTENCY_TTL
        ).delete()
        try:
            with transaction.atomic():
                # While a first request with this key is still being answered its row
                # is uncommitted: this insert waits for it, then conflicts.
                record = IdempotencyRecord.objects.create(**identity, body_hash=body_hash)
        except IntegrityError:
            record = IdempotencyRecord.objects.get(**identity)
            if record.body_hash != body_hash:
                raise errors.IdempotencyKeyReused() from None
            body = record.response_body
            # Stored as its JSON text (older records: as an object).
            data = json.loads(body) if isinstance(body, str) else body
            response = Response(data, status=record.status)
            response["Idempotency-Replayed"] = "true"
            return response
        response = work()
        record.status = response.status_code
        # As text, not as an object: jsonb keeps no member order, and a repeat gets
        # the first answer's body, in its order (the serializer's, the contract's).
        record.response_body = JSONRenderer().render(response.data).decode()
        record.save(update_fields=["status", "response_body"])
        return response
