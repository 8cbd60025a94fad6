"""Einstellungen → Protokoll (organisation admins): the audit log as a table with
filters, paged, and the same entries as a CSV file. The names of records are shown
here only, looked up while the record exists; the log itself holds their ids."""

from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import reverse
from django.views import View

from audit import selectors
from audit.actions import label, object_type_label
from audit.export import csv_response
from audit.services import audit_log_exported
from lemniscus.tenancy import parse_public_id, scoped
from patients.models import Patient
from patients.selectors import patient_list
from web.forms_einstellungen import AuditLogFilterForm
from web.views.einstellungen import AdminPageMixin

PAGE_SIZE = 50
# A search for a record takes at most this many matching records into the filter.
RECORDS_SEARCHED = 50
FILTER_NAMES = ("akte", "mitarbeiter", "von", "bis")


@dataclass
class Filters:
    """The form's filters as the selector takes them, and what the page says about
    them."""

    patient_ids: list | None = None
    actor: object = None
    since: object = None
    before: object = None
    note: str = ""
    export: dict = field(default_factory=dict)  # for the download's own entry
    patient: object = None  # the one record asked for by id


def resolve(form: AuditLogFilterForm, organisation) -> Filters:
    data = form.cleaned_data
    zone = organisation.zone
    filters = Filters(
        actor=data["mitarbeiter"],
        since=selectors.period_start(data["von"], zone) if data["von"] else None,
        before=selectors.period_end(data["bis"], zone) if data["bis"] else None,
    )
    term = data["akte"]
    if term and (public_id := parse_public_id(term)) is not None:
        # by id: also a record that no longer exists
        filters.patient_ids = [public_id]
        filters.patient = public_id
    elif term:
        found = list(
            patient_list(organisation=organisation, q=term, archived=True).values_list(
                "public_id", flat=True
            )[: RECORDS_SEARCHED + 1]
        )
        filters.patient_ids = found[:RECORDS_SEARCHED]
        if not found:
            filters.note = "Keine Akte passt zu dieser Suche."
        elif len(found) > RECORDS_SEARCHED:
            filters.note = (
                f"Mehr als {RECORDS_SEARCHED} Akten passen zu dieser Suche; gezeigt wird das "
                f"Protokoll der ersten {RECORDS_SEARCHED}. Bitte genauer suchen."
            )
        # never the search term itself in the log: it may be a name
        filters.export["akten"] = f"{len(filters.patient_ids)} (Suche)"
    filters.export |= {
        "actor": data["mitarbeiter"].email if data["mitarbeiter"] else None,
        "since": data["von"],
        "until": data["bis"],
    }
    return filters


def _entries(organisation, filters: Filters):
    return selectors.audit_log(
        organisation=organisation,
        patient_ids=filters.patient_ids,
        actor=filters.actor,
        since=filters.since,
        before=filters.before,
    )


class AuditLogView(AdminPageMixin, View):
    template_name = "web/einstellungen/protokoll.html"

    def get(self, request):
        form = AuditLogFilterForm(request.GET, organisation=self.organisation)
        if not form.is_valid():
            return self._render(form, status=422)
        filters = resolve(form, self.organisation)
        page = Paginator(_entries(self.organisation, filters), PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        records = {
            patient.public_id: patient
            for patient in scoped(Patient, self.organisation)
            .filter(public_id__in={event.patient_id for event in page if event.patient_id})
            .only("public_id", "first_name", "last_name")
        }
        for event in page:
            event.label = label(event.action)
            event.object_label = object_type_label(event.object_type)
            event.record = records.get(event.patient_id)
            event.shows_object_id = event.object_id and event.object_id != str(
                event.patient_id or ""
            )
        query = urlencode({n: request.GET[n] for n in FILTER_NAMES if request.GET.get(n)})
        return self._render(
            form,
            page=page,
            query=query,
            filtered=bool(query),
            note=filters.note,
            csv_url=reverse("audit_log_csv") + (f"?{query}" if query else ""),
        )

    def _render(self, form, *, status=200, **context):
        context = {"organisation": self.organisation, "form": form, **context}
        return render(self.request, self.template_name, context, status=status)


class AuditLogCsvView(AuditLogView):
    """Every entry the filters match, as the staff API's CSV file."""

    def get(self, request):
        form = AuditLogFilterForm(request.GET, organisation=self.organisation)
        if not form.is_valid():
            return self._render(form, status=422)
        filters = resolve(form, self.organisation)
        audit_log_exported(
            organisation=self.organisation,
            actor=request.user,
            patient=filters.patient,
            filters=filters.export,
        )
        return csv_response(_entries(self.organisation, filters), organisation=self.organisation)
