"""Sending an invoice by e-mail from its page (billing.sending; issue 14). The e-mail
itself goes out in a background job; the page says where to, masked, and shows
`sent_at` once the job has run."""

from django.contrib import messages
from django.shortcuts import redirect
from django.views import View

from billing.sending import invoice_send_request, masked
from lemniscus.errors import DomainError, NoEmail
from web.views.abrechnung import InvoiceMixin

NO_EMAIL = (
    "Die Rechnung kann nicht per E-Mail gesendet werden: weder der Rechnungsempfänger "
    "noch die Akte hat eine E-Mail-Adresse. Tragen Sie eine in der Akte ein, oder "
    "laden Sie das PDF herunter und senden Sie es per Post."
)


class InvoiceSendView(InvoiceMixin, View):
    def post(self, request, id):
        invoice = self.invoice()
        try:
            address = invoice_send_request(invoice=invoice, actor=request.user)
        except NoEmail:
            messages.error(request, NO_EMAIL)
        except DomainError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(
                request,
                f"Die Rechnung wird an {masked(address)} gesendet. „Versendet am“ erscheint "
                "hier, sobald die E-Mail hinaus ist.",
            )
        return redirect("invoice_detail", id=id)
