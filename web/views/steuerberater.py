"""Steuerberater-Export (under Rechnungen, billing right): pick a month, download the
DATEV Buchungsstapel or the Rechnungsausgangsbuch (billing.accounting writes both and
logs the download). A malformed month is 422 with a German message on the page."""

from datetime import timedelta

from django.http import HttpResponse
from django.shortcuts import render
from django.views import View

from billing.accounting import FORMATS, accounting_export, month_bounds
from organisations.models import Right
from web.mixins import StaffPageMixin

CONTENT_TYPES = {"datev": "text/csv; charset=windows-1252", "csv": "text/csv; charset=utf-8"}


class AccountingExportPageView(StaffPageMixin, View):
    right = Right.BILLING
    template_name = "web/abrechnung/steuerberater_export.html"

    def get(self, request):
        last_month = self.organisation.today().replace(day=1) - timedelta(days=1)
        month = request.GET.get("monat", f"{last_month:%Y-%m}").strip()
        file_format = request.GET.get("format")
        if file_format is None:
            return self._page(month)
        try:
            month_bounds(month)
        except ValueError:
            return self._page(
                month, "Bitte einen Monat im Format JJJJ-MM wählen, z. B. 2026-11.", status=422
            )
        if file_format not in FORMATS:
            return self._page(month, "Bitte „DATEV“ oder „CSV“ wählen.", status=422)
        content, filename = accounting_export(
            organisation=self.organisation, actor=request.user, month=month, file_format=file_format
        )
        return HttpResponse(
            content,
            content_type=CONTENT_TYPES[file_format],
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    def _page(self, month: str, error: str = "", status: int = 200):
        context = {"organisation": self.organisation, "month": month, "error": error}
        return render(self.request, self.template_name, context, status=status)
