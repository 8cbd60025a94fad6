"""Mahnwesen (issue 14): the Mahnvorschläge under Rechnungen with "Mahnung erstellen"
per row, a notice's PDF, and Einstellungen → Mahnstufen. billing.dunning decides and
writes; nothing is made or sent without a click here."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.views import View
from django.views.generic import TemplateView

from billing import dunning
from billing.pdf import dunning_filename
from lemniscus.errors import DomainError, NotFound, ValidationFailed
from organisations.models import Right
from organisations.money_settings import MAX_LEVELS
from organisations.services import organisation_update_practice
from web.mixins import StaffPageMixin
from web.views.abrechnung import InvoiceMixin
from web.views.einstellungen import AdminPageMixin

PROPOSALS_PER_PAGE = 50


class ProposalsView(StaffPageMixin, TemplateView):
    """Mahnvorschläge: overdue open invoices due for their next level."""

    right = Right.BILLING
    template_name = "web/abrechnung/mahnvorschlaege.html"

    def get_context_data(self, **kwargs):
        levels = {lv.level: lv for lv in dunning.levels(self.organisation)}
        invoices = dunning.dunning_proposals(organisation=self.organisation)
        page = Paginator(invoices, PROPOSALS_PER_PAGE).get_page(self.request.GET.get("seite"))
        today = self.organisation.today()
        rows = [
            {
                "invoice": invoice,
                "days": (today - invoice.due_date).days,
                "level": levels[invoice.notice_level + 1],
            }
            for invoice in page.object_list
        ]
        return super().get_context_data(page=page, rows=rows, **kwargs)


class NoticeCreateView(InvoiceMixin, View):
    """ "Mahnung erstellen": the invoice's next notice; back to where the click was."""

    def post(self, request, id):
        invoice = self.invoice()
        back = request.POST.get("zurueck") == "rechnung"
        try:
            notice = dunning.dunning_notice_create(invoice=invoice, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.detail)
        else:
            url = reverse("dunning_notice_pdf", args=[notice.public_id])
            messages.success(
                request,
                format_html(
                    '{} zur Rechnung {} ist erstellt. <a href="{}">PDF öffnen</a>',
                    notice.name,
                    invoice.number,
                    url,
                ),
            )
        if back:
            return redirect("invoice_detail", id=id)
        return redirect("dunning_proposals")


class NoticePdfView(StaffPageMixin, View):
    right = Right.BILLING

    def get(self, request, notice_id):
        try:
            notice = dunning.access_dunning_notice(
                organisation=self.organisation, public_id=notice_id
            )
        except NotFound:
            raise Http404 from None
        content = dunning.dunning_notice_pdf(notice=notice, actor=request.user)
        return HttpResponse(
            content,
            content_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{dunning_filename(notice)}"'},
        )


class LevelsView(AdminPageMixin, View):
    """Einstellungen → Mahnstufen: up to MAX_LEVELS rows of name, days after the due
    date and fee; a row without a name is left out. Checked by
    organisations.money_settings; refused input is 422 with the German reason."""

    template_name = "web/abrechnung/mahnstufen.html"

    def get(self, request):
        return self.page([self._row(lv) for lv in self.organisation.dunning_levels])

    def post(self, request):
        rows = [
            {
                "name": request.POST.get(f"name-{n}", "").strip(),
                "days_after_due": request.POST.get(f"tage-{n}", "").strip(),
                "fee": request.POST.get(f"gebuehr-{n}", "").strip().replace(",", "."),
            }
            for n in range(1, MAX_LEVELS + 1)
        ]
        levels, errors = [], []
        for number, row in enumerate((r for r in rows if r["name"]), start=1):
            try:
                days = int(row["days_after_due"])
            except ValueError:
                errors.append(f"Stufe {number}: bitte die Tage nach Fälligkeit als Zahl angeben.")
                continue
            levels.append(
                {**row, "level": number, "days_after_due": days, "fee": row["fee"] or "0"}
            )
        if not errors:
            try:
                organisation_update_practice(
                    organisation=self.organisation, data={"dunning_levels": levels}
                )
            except ValidationFailed as exc:
                errors = [text for texts in (exc.errors or {}).values() for text in texts] or [
                    exc.detail
                ]
            else:
                messages.success(request, "Die Mahnstufen sind gespeichert.")
                return redirect("dunning_levels")
        return self.page(rows, errors=errors, status=422)

    def page(self, rows, *, errors=(), status=200):
        rows = list(rows) + [{"name": "", "days_after_due": "", "fee": ""}] * MAX_LEVELS
        context = {
            "organisation": self.organisation,
            "rows": list(enumerate(rows[:MAX_LEVELS], start=1)),
            "errors": errors,
        }
        return render(self.request, self.template_name, context, status=status)

    @staticmethod
    def _row(level: dict) -> dict:
        return {k: level[k] for k in ("name", "days_after_due", "fee")}
