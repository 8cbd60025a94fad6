"""Einstellungen (organisation admins only): the tiles, the practice data, and token
management with the initial handover export (operations.md, "Token management" and
"Initial handover"). Views call organisations.services, tokens.services and
doctolib_bridge.handover.services; nothing is decided here."""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views import View
from django.views.generic import TemplateView

from doctolib_bridge.handover import selectors as handover_selectors
from doctolib_bridge.handover import services as handover_services
from doctolib_bridge.models import ExportState
from lemniscus.errors import DomainError, NotFound
from organisations.services import PRACTICE_FIELDS, organisation_update_practice
from tokens import selectors
from tokens.models import TokenKind
from tokens.services import token_create, token_revoke
from web.forms_abrechnung import ApiTokenForm
from web.forms_einstellungen import PracticeForm
from web.mixins import StaffPageMixin, add_domain_errors

EXPORTS_SHOWN = 20
EXPORT_FILES = ("patients.csv", "appointments.csv")


def public_origin() -> str:
    """PUBLIC_BASE_URL's origin, no trailing slash (the plugin's `base_url`)."""
    parts = urlsplit(settings.PUBLIC_BASE_URL)
    return f"{parts.scheme}://{parts.netloc}"


class AdminPageMixin(StaffPageMixin):
    admin_only = True


class SettingsView(AdminPageMixin, TemplateView):
    template_name = "web/einstellungen/index.html"


class PracticeView(AdminPageMixin, View):
    """Praxisdaten: letterhead and bank details of the invoices, payment term, and
    when reminders go out. Invalid input: 422 with the form's German messages."""

    template_name = "web/einstellungen/praxis.html"

    def get(self, request):
        organisation = self.organisation
        initial = {name: getattr(organisation, name) for name in PRACTICE_FIELDS}
        return self._render(PracticeForm(initial=initial))

    def post(self, request):
        form = PracticeForm(request.POST)
        if not form.is_valid():
            return self._render(form, status=422)
        try:
            organisation_update_practice(organisation=self.organisation, data=form.cleaned_data)
        except DomainError as exc:
            add_domain_errors(form, exc)
            return self._render(form, status=422)
        messages.success(request, "Die Praxisdaten sind gespeichert.")
        return redirect("practice")

    def _render(self, form, *, status=200):
        context = {"organisation": self.organisation, "form": form}
        return render(self.request, self.template_name, context, status=status)


def export_context(organisation) -> dict:
    jobs = list(handover_selectors.export_list(organisation=organisation)[:EXPORTS_SHOWN])
    running = any(job.state in handover_services.ACTIVE_STATES for job in jobs)
    return {"jobs": jobs, "running": running, "done": ExportState.DONE}


class TokensView(AdminPageMixin, View):
    """The token list with the Doctolib switch, personal API tokens (POST makes one
    and shows it in full this once) and the export jobs."""

    template_name = "web/einstellungen/tokens.html"

    def get(self, request):
        return self._render(ApiTokenForm(organisation=self.organisation))

    def post(self, request):
        form = ApiTokenForm(request.POST, organisation=self.organisation)
        if not form.is_valid():
            return self._render(form, status=422)
        try:
            token, raw = token_create(
                organisation=self.organisation,
                kind=TokenKind.API,
                user=form.cleaned_data["user"],
                name=form.cleaned_data["name"],
                created_by=request.user,
            )
        except DomainError as exc:
            form.add_error(None, exc.detail)
            return self._render(form, status=422)
        fresh = ApiTokenForm(organisation=self.organisation)
        return self._render(fresh, new_token={"token": token, "raw": raw})

    def _render(self, form, *, status=200, **extra):
        organisation = self.organisation
        context = {
            "organisation": organisation,
            "form": form,
            "tokens": selectors.token_list(organisation=organisation),
            "doctolib": selectors.active_doctolib_token(organisation=organisation),
            **export_context(organisation),
            **extra,
        }
        return render(self.request, self.template_name, context, status=status)


class DoctolibActivateView(AdminPageMixin, View):
    """POST (from the page, after the plugin answered): the new Doctolib token as JSON,
    for the page to hand to the plugin. Refused below plan XL."""

    def post(self, request):
        try:
            _, raw = token_create(
                organisation=self.organisation, kind=TokenKind.DOCTOLIB, created_by=request.user
            )
        except DomainError as exc:
            return JsonResponse({"detail": exc.detail}, status=exc.status)
        return JsonResponse(
            {"token": raw, "orga_id": self.organisation.orga_id, "base_url": public_origin()},
            status=201,
        )


class DoctolibDeactivateView(AdminPageMixin, View):
    """Ask first, then revoke the active Doctolib token at once."""

    template_name = "web/einstellungen/doctolib_deactivate.html"

    def get(self, request):
        token = selectors.active_doctolib_token(organisation=self.organisation)
        if token is None:
            return redirect("tokens")
        return render(request, self.template_name, {"organisation": self.organisation})

    def post(self, request):
        token = selectors.active_doctolib_token(organisation=self.organisation)
        if token is not None:
            token_revoke(token=token, actor=request.user)
            messages.success(request, "Die Doctolib-Integration ist deaktiviert.")
        return redirect("tokens")


class TokenRevokeView(AdminPageMixin, View):
    """Ask first, then revoke one token of the organisation."""

    template_name = "web/einstellungen/token_revoke.html"

    def get(self, request, id):
        context = {"organisation": self.organisation, "token": self._token(id)}
        return render(request, self.template_name, context)

    def post(self, request, id):
        token = token_revoke(token=self._token(id), actor=request.user)
        messages.success(request, f"Der Token {token.display_prefix}… ist widerrufen.")
        return redirect("tokens")

    def _token(self, id):
        try:
            return selectors.access_token(organisation=self.organisation, public_id=id)
        except NotFound:
            raise Http404 from None


class ExportStartView(AdminPageMixin, View):
    """POST: start an export; `termine_loeschen` also removes the exported
    appointments. GET `?termine_loeschen=1`: the warning to confirm first."""

    template_name = "web/einstellungen/export_delete.html"

    def get(self, request):
        return render(request, self.template_name, {"organisation": self.organisation})

    def post(self, request):
        delete = request.POST.get("termine_loeschen") == "1"
        try:
            handover_services.export_start(
                organisation=self.organisation, actor=request.user, delete_appointments=delete
            )
        except DomainError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(
                request,
                "Der Export mit Löschen der Termine wurde gestartet."
                if delete
                else "Der Export wurde gestartet.",
            )
        return redirect("tokens")


class ExportListView(AdminPageMixin, TemplateView):
    """The job list alone: htmx polls it every 2 s while a job is queued or running."""

    template_name = "web/einstellungen/_exports.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(**export_context(self.organisation), **kwargs)


class ExportFileView(AdminPageMixin, View):
    def get(self, request, id, name):
        try:
            stored = handover_services.export_file(
                organisation=self.organisation, actor=request.user, public_id=id, name=name
            )
        except NotFound:
            raise Http404 from None
        return FileResponse(
            stored.open("rb"),
            as_attachment=True,
            filename=name,
            content_type="text/csv; charset=utf-8",
        )
