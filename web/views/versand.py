"""Sending by e-mail from the invoice page (billing.sending; issue 14): the invoice
itself ("Per E-Mail senden" in the toolbar) and each of its dunning notices (in the
card "Mahnungen"). The e-mail goes out in a background job; the page says where to,
masked, and shows `sent_at` once the job has run."""

from django.contrib import messages
from django.shortcuts import redirect
from django.views import View

from billing.dunning import access_dunning_notice
from billing.sending import dunning_notice_send_request, invoice_send_request, masked
from lemniscus.errors import DomainError, NoEmail
from organisations.models import Right
from web.mixins import StaffPageMixin
from web.views.abrechnung import InvoiceMixin, found

NO_EMAIL = (
    "Die {} kann nicht per E-Mail gesendet werden: weder der Rechnungsempfänger "
    "noch die Akte hat eine E-Mail-Adresse. Tragen Sie eine in der Akte ein, oder "
    "laden Sie das PDF herunter und senden Sie es per Post."
)
WHEN = "„{}“ erscheint hier, sobald die E-Mail hinaus ist."


class InvoiceSendView(InvoiceMixin, View):
    def post(self, request, id):
        invoice = self.invoice()
        _queue(
            request,
            lambda: invoice_send_request(invoice=invoice, actor=request.user),
            what="Rechnung",
            queued="Die Rechnung wird an {} gesendet. " + WHEN.format("Versendet am"),
        )
        return redirect("invoice_detail", id=id)


class NoticeSendView(StaffPageMixin, View):
    """ "Per E-Mail senden" of one dunning notice; back to its invoice's page."""

    right = Right.BILLING

    def post(self, request, notice_id):
        notice = found(access_dunning_notice, organisation=self.organisation, public_id=notice_id)
        _queue(
            request,
            lambda: dunning_notice_send_request(notice=notice, actor=request.user),
            what="Mahnung",
            queued=f"{notice.name} zur Rechnung {notice.invoice.number} wird an {{}} gesendet. "
            + WHEN.format("gesendet am"),
        )
        return redirect("invoice_detail", id=notice.invoice.public_id)


def _queue(request, send, *, what: str, queued: str) -> None:
    """Ask billing.sending to queue the mail and say how it went: where to (masked),
    or why not, in German."""
    try:
        address = send()
    except NoEmail:
        messages.error(request, NO_EMAIL.format(what))
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, queued.format(masked(address)))
