"""Rechnungslauf (under Rechnungen, billing right; issue 14): pick a period and,
optionally, calendar columns; the job makes the drafts while the page shows its
progress (htmx polls it); then the review list with totals and the skipped patients,
"Alle stellen", "Alle senden" and the print PDF of those without an e-mail address.
billing.runs decides and writes; nothing is issued or sent without a click here."""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views import View
from django.views.generic import TemplateView

from appointments.models import CalendarColumn
from billing import runs, sending
from billing.models import InvoiceStatus
from lemniscus.errors import DomainError, NotFound
from lemniscus.tenancy import parse_public_id, scoped
from organisations.models import Right
from patients.models import Patient
from web.mixins import StaffPageMixin, add_domain_errors

INVOICES_PER_PAGE = 100
RUNS_SHOWN = 20


class BillingRunForm(forms.Form):
    period_start = forms.DateField(
        label="Von", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    period_end = forms.DateField(
        label="Bis", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    calendar_columns = forms.ModelMultipleChoiceField(
        label="Nur diese Spalten",
        queryset=CalendarColumn.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Keine gewählt: alle Spalten.",
    )

    def __init__(self, *args, organisation, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["calendar_columns"].queryset = scoped(CalendarColumn, organisation).order_by(
            "position", "name"
        )


def last_month(today):
    """The first and last day of the month before `today`'s."""
    end = today.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


class BillingRunListView(StaffPageMixin, View):
    """The form to start a run, above the last runs."""

    right = Right.BILLING
    template_name = "web/abrechnung/rechnungslauf_list.html"

    def get(self, request):
        start, end = last_month(self.organisation.today())
        form = BillingRunForm(
            organisation=self.organisation, initial={"period_start": start, "period_end": end}
        )
        return self._page(form)

    def post(self, request):
        form = BillingRunForm(request.POST, organisation=self.organisation)
        if form.is_valid():
            data = form.cleaned_data
            try:
                run = runs.billing_run_start(
                    organisation=self.organisation,
                    actor=request.user,
                    period_start=data["period_start"],
                    period_end=data["period_end"],
                    calendar_column_ids=[c.public_id for c in data["calendar_columns"]],
                )
            except DomainError as exc:
                add_domain_errors(form, exc)
                if not exc.errors:
                    form.add_error(None, exc.detail)
            else:
                return redirect("billing_run_detail", id=run.public_id)
        return self._page(form, status=422)

    def _page(self, form, status: int = 200):
        context = {
            "organisation": self.organisation,
            "form": form,
            "runs": runs.billing_run_list(organisation=self.organisation)[:RUNS_SHOWN],
        }
        return render(self.request, self.template_name, context, status=status)


class BillingRunMixin(StaffPageMixin):
    right = Right.BILLING

    def run(self, lock: bool = False):
        try:
            return runs.access_billing_run(
                organisation=self.organisation, public_id=self.kwargs["id"], lock=lock
            )
        except NotFound:
            raise Http404 from None


class BillingRunDetailView(BillingRunMixin, TemplateView):
    """The run: its progress while the job works (`?teil=fortschritt` is the part
    htmx polls; when the job is done it asks the browser to reload), then the
    review list."""

    template_name = "web/abrechnung/rechnungslauf_detail.html"

    def get(self, request, *args, **kwargs):
        if request.GET.get("teil") == "fortschritt":
            run = self.run()
            if run.status not in runs.ACTIVE:
                return HttpResponse(headers={"HX-Refresh": "true"})
            return render(request, "web/abrechnung/_rechnungslauf_progress.html", {"run": run})
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        run = self.run()
        invoices = runs.run_invoices(run)
        page = Paginator(invoices, INVOICES_PER_PAGE).get_page(self.request.GET.get("seite"))
        for invoice in page.object_list:
            invoice.by_mail = bool(sending.recipient_email(invoice))
        with_address, without = runs.run_mail_split(run)
        skipped_patients = scoped(Patient, self.organisation).in_bulk(
            [entry["patient_id"] for entry in run.skipped], field_name="public_id"
        )
        skipped = [
            {**entry, "patient": skipped_patients.get(parse_public_id(entry["patient_id"]))}
            for entry in run.skipped
        ]
        totals = runs.run_totals(run)
        return super().get_context_data(
            run=run,
            active=run.status in runs.ACTIVE,
            page=page,
            totals=totals,
            drafts=totals["by_status"].get(InvoiceStatus.DRAFT, {}).get("count", 0),
            to_send=sum(1 for invoice in with_address if invoice.sent_at is None),
            sent=sum(1 for invoice in with_address if invoice.sent_at is not None),
            to_print=len(without),
            skipped=skipped,
            **kwargs,
        )


class BillingRunIssueView(BillingRunMixin, View):
    """ "Alle stellen": the job issues the drafts; back to the run's progress."""

    def post(self, request, id):
        try:
            runs.billing_run_issue(run=self.run(), actor=request.user)
        except DomainError as exc:
            details = " ".join(m for ms in (exc.errors or {}).values() for m in ms)
            messages.error(request, f"{exc.detail} {details}".strip())
        return redirect("billing_run_detail", id=id)


class BillingRunSendView(BillingRunMixin, View):
    """ "Alle senden": every issued invoice with an address not yet sent."""

    def post(self, request, id):
        try:
            _, queued, without = runs.billing_run_send(run=self.run(), actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.detail)
        else:
            text = f"{queued} Rechnung{'en' if queued != 1 else ''} werden per E-Mail gesendet."
            if without:
                text += (
                    f" {without} ohne E-Mail-Adresse: bitte das Druck-PDF drucken und "
                    "per Post senden."
                )
            messages.success(request, text)
        return redirect("billing_run_detail", id=id)


class BillingRunPrintView(BillingRunMixin, View):
    def get(self, request, id):
        run = self.run()
        try:
            content = runs.billing_run_print(run=run, actor=request.user)
        except NotFound:
            raise Http404 from None
        return HttpResponse(
            content,
            content_type="application/pdf",
            headers={
                "Content-Disposition": (
                    f'inline; filename="rechnungslauf-{run.period_start:%Y-%m-%d}-druck.pdf"'
                )
            },
        )
