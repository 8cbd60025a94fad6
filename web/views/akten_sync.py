"""The Sync-Protokoll page: the organisation's Zipper API calls with their sentence,
filterable, and the troubleshooting tips of the help article."""

from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.views.generic import TemplateView

from doctolib_bridge.selectors import sync_log_list
from web.forms_akten import CODE_LABELS, OUTCOME_LABELS, SyncLogFilterForm
from web.mixins import StaffPageMixin

PAGE_SIZE = 50

TIPS = [
    (
        "Verbindung zu Zipper funktioniert nicht?",
        "Zuerst die Doctolib-Seite neu laden, dann die lemniscus-Seite.",
    ),
    (
        "Termine erscheinen nicht in lemniscus?",
        "Prüfen, ob die Akte mit Doctolib verknüpft ist.",
    ),
    (
        "Terminänderungen aus Doctolib fehlen?",
        "Den Termin in Doctolib erneut in lemniscus speichern.",
    ),
]


class SyncLogView(StaffPageMixin, TemplateView):
    template_name = "web/akten/sync_log.html"

    def get_context_data(self, **kwargs):
        form = SyncLogFilterForm(self.request.GET)
        entries = form.apply(sync_log_list(organisation=self.organisation))
        page = Paginator(entries, PAGE_SIZE).get_page(self.request.GET.get("page"))
        for entry in page:
            entry.result = (
                CODE_LABELS.get(entry.code, entry.code)
                if entry.status >= 400
                else OUTCOME_LABELS.get(entry.outcome, entry.outcome)
            )
        filters = {k: v for k, v in form.cleaned_data.items() if v} if form.is_valid() else {}
        return super().get_context_data(
            form=form,
            page=page,
            query=urlencode(filters),
            filtered=bool(filters),
            tips=TIPS,
            **kwargs,
        )
