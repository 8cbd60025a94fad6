"""Zahlungen on an invoice's page: record a payment, reverse one (after asking), write
the rest off with a reason (billing.payments writes; issue 14). A refusal is the
service's German message; invalid input is 422 with the form, nothing saved."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views import View

from billing.models import Payment
from billing.payments import (
    PAYABLE,
    RECORDABLE,
    invoice_write_off,
    payment_record,
    payment_reverse,
)
from lemniscus.errors import DomainError, ValidationFailed
from web.forms_zahlungen import WriteOffForm, payment_form
from web.mixins import add_domain_errors
from web.views.abrechnung import InvoiceMixin


class PaymentCreateView(InvoiceMixin, View):
    template_name = "web/abrechnung/zahlung.html"

    def post(self, request, id):
        invoice = self.invoice()
        if invoice.status not in RECORDABLE:
            messages.error(request, "Für diese Rechnung kann keine Zahlung erfasst werden.")
            return redirect("invoice_detail", id=id)
        form = payment_form(invoice, request.POST)
        if form.is_valid():
            try:
                payment_record(invoice=invoice, actor=request.user, **form.cleaned_data)
            except ValidationFailed as exc:
                add_domain_errors(form, exc)
            except DomainError as exc:
                messages.error(request, exc.detail)
                return redirect("invoice_detail", id=id)
            else:
                messages.success(request, "Die Zahlung ist erfasst.")
                return redirect("invoice_detail", id=id)
        context = {"organisation": self.organisation, "invoice": invoice, "form": form}
        return render(request, self.template_name, context, status=422)


class PaymentReverseView(InvoiceMixin, View):
    """Asks first, then books the reversal (a negative payment)."""

    template_name = "web/abrechnung/zahlung_stornieren.html"

    def payment(self, invoice):
        payment = Payment.objects.filter(
            invoice=invoice, public_id=self.kwargs["payment_id"]
        ).first()
        if payment is None:
            raise Http404
        return payment

    def get(self, request, id, payment_id):
        invoice = self.invoice()
        context = {
            "organisation": self.organisation,
            "invoice": invoice,
            "payment": self.payment(invoice),
        }
        return render(request, self.template_name, context)

    def post(self, request, id, payment_id):
        invoice = self.invoice()
        payment = self.payment(invoice)
        try:
            payment_reverse(invoice=invoice, payment_id=payment.public_id, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, "Die Zahlung ist zurückgebucht (Gegenbuchung).")
        return redirect("invoice_detail", id=id)


class WriteOffView(InvoiceMixin, View):
    template_name = "web/abrechnung/abschreiben.html"

    def get(self, request, id):
        return self._render(self.invoice(), WriteOffForm())

    def post(self, request, id):
        invoice = self.invoice()
        form = WriteOffForm(request.POST)
        if invoice.status not in PAYABLE:
            messages.error(
                request, "Diese Rechnung hat nichts mehr offen, das abgeschrieben werden könnte."
            )
            return redirect("invoice_detail", id=id)
        if form.is_valid():
            try:
                invoice_write_off(invoice=invoice, actor=request.user, **form.cleaned_data)
            except ValidationFailed as exc:
                add_domain_errors(form, exc)
            except DomainError as exc:
                messages.error(request, exc.detail)
                return redirect("invoice_detail", id=id)
            else:
                messages.success(request, f"Die Rechnung {invoice.number} ist abgeschrieben.")
                return redirect("invoice_detail", id=id)
        return self._render(invoice, form, status=422)

    def _render(self, invoice, form, status=200):
        context = {"organisation": self.organisation, "invoice": invoice, "form": form}
        return render(self.request, self.template_name, context, status=status)
