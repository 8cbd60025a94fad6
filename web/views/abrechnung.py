"""Staff pages of the billing area: Leistungsketten and Rechnungen. Views only
translate between forms and billing.selectors / billing.services; domain errors
become German messages next to what caused them."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from billing import payments, selectors, sending, services
from billing.models import DocumentKind, InvoiceStatus
from billing.parties import invoice_parties
from billing.pdf import cancellation_filename, invoice_filename
from billing.sending import masked
from lemniscus.errors import DomainError, InvoiceIncomplete, NotFound, ValidationFailed
from lemniscus.tenancy import parse_public_id
from organisations.models import Right, Role
from patients.selectors import access_patient, patient_list
from web.forms_abrechnung import (
    InvoiceCreateForm,
    InvoiceFilterForm,
    InvoiceLineEditForm,
    InvoiceLineForm,
    PatientSearchForm,
    RecipientForm,
    ServiceChainForm,
    ServiceFormSet,
)
from web.mixins import StaffPageMixin

INVOICES_PER_PAGE = 50
SERVICE_FIELDS = ("code", "name", "price", "vat_rate", "tax_category", "minutes")
PATIENT_MATCHES = 20


def found(lookup, **kwargs):
    """The object a selector's `access_…` finds; another organisation's or a missing
    one is the 404 page."""
    try:
        return lookup(**kwargs)
    except NotFound:
        raise Http404 from None


# Leistungsketten


class ChainListView(StaffPageMixin, TemplateView):
    """Every member sees the chains; changing them needs the billing right."""

    template_name = "web/abrechnung/chain_list.html"

    def get_context_data(self, **kwargs):
        chains = selectors.service_chain_list(organisation=self.organisation)
        return super().get_context_data(
            chains=chains.order_by("description", "id"),
            can_edit=self.request.user.has_right(Right.BILLING),
            **kwargs,
        )


class ChainEditView(StaffPageMixin, View):
    """A new chain (no id) or an existing one: description, notes, services."""

    right = Right.BILLING
    template_name = "web/abrechnung/chain_edit.html"

    def get(self, request, id=None):
        chain = self._chain(id)
        if chain is None:
            form, formset = ServiceChainForm(), ServiceFormSet(prefix="services")
        else:
            form = ServiceChainForm(
                initial={"description": chain.description, "notes": chain.notes}
            )
            formset = ServiceFormSet(
                prefix="services",
                initial=[{f: getattr(s, f) for f in SERVICE_FIELDS} for s in chain.services.all()],
            )
        return self._render(chain, form, formset)

    def post(self, request, id=None):
        chain = self._chain(id)
        form = ServiceChainForm(request.POST)
        if "add_row" in request.POST:  # without JavaScript: one more empty row
            data = request.POST.copy()
            total = "services-TOTAL_FORMS"
            data[total] = str(int(data.get(total) or 0) + 1)
            return self._render(chain, form, ServiceFormSet(data, prefix="services"))
        formset = ServiceFormSet(request.POST, prefix="services")
        if not (form.is_valid() and formset.is_valid()):
            return self._render(chain, form, formset, status=422)
        fields = {**form.cleaned_data, "services": formset.services()}
        if chain is None:
            chain = services.service_chain_create(organisation=self.organisation, **fields)
            messages.success(request, f"Die Leistungskette „{chain}“ wurde angelegt.")
        else:
            chain = services.service_chain_update(chain=chain, **fields)
            messages.success(request, f"Die Leistungskette „{chain}“ wurde gespeichert.")
        return redirect("chain_edit", id=chain.public_id)

    def _chain(self, id):
        if id is None:
            return None
        return found(selectors.access_service_chain, organisation=self.organisation, public_id=id)

    def _render(self, chain, form, formset, status=200):
        context = {"organisation": self.organisation, "chain": chain, "form": form}
        return render(
            self.request, self.template_name, {**context, "formset": formset}, status=status
        )


class ChainDeleteView(StaffPageMixin, View):
    """Ask first; a chain that appointments use is refused (409 chain_in_use)."""

    right = Right.BILLING
    template_name = "web/abrechnung/chain_delete.html"

    def get(self, request, id):
        chain = self._chain(id)
        context = {"organisation": self.organisation, "chain": chain}
        return render(request, self.template_name, context)

    def post(self, request, id):
        chain = self._chain(id)
        try:
            services.service_chain_delete(chain=chain)
        except DomainError as exc:
            messages.error(request, exc.detail)
            return redirect("chain_edit", id=chain.public_id)
        messages.success(request, f"Die Leistungskette „{chain}“ wurde gelöscht.")
        return redirect("chain_list")

    def _chain(self, id):
        return found(selectors.access_service_chain, organisation=self.organisation, public_id=id)


# Rechnungen


class InvoiceListView(StaffPageMixin, TemplateView):
    right = Right.BILLING
    template_name = "web/abrechnung/invoice_list.html"

    def get_context_data(self, **kwargs):
        form = InvoiceFilterForm(self.request.GET or None)
        form.is_valid()
        invoices = selectors.invoice_search(organisation=self.organisation, **form.filters())
        page = Paginator(invoices, INVOICES_PER_PAGE).get_page(self.request.GET.get("seite"))
        query = self.request.GET.copy()
        query.pop("seite", None)
        return super().get_context_data(form=form, page=page, query=query.urlencode(), **kwargs)


class OpenItemsView(StaffPageMixin, TemplateView):
    """Offene Posten: issued and partly paid invoices with their open amounts and
    totals, overdue ones marked; the invoice list's filters."""

    right = Right.BILLING
    template_name = "web/abrechnung/offene_posten.html"

    def get_context_data(self, **kwargs):
        form = InvoiceFilterForm(self.request.GET or None)
        form.is_valid()
        filters = {**form.filters(), "status": "open"}
        invoices = selectors.invoice_search(organisation=self.organisation, **filters)
        page = Paginator(invoices, INVOICES_PER_PAGE).get_page(self.request.GET.get("seite"))
        query = self.request.GET.copy()
        query.pop("seite", None)
        return super().get_context_data(
            form=form,
            page=page,
            totals=selectors.open_items_totals(invoices),
            today=self.organisation.today(),
            query=query.urlencode(),
            **kwargs,
        )


class InvoiceCreateView(StaffPageMixin, View):
    """`?patient={id}`: the patient's billable appointments to tick; without a
    patient, a search for the record."""

    right = Right.BILLING
    template_name = "web/abrechnung/invoice_create.html"

    def get(self, request):
        patient = self._patient()
        if patient is None:
            return self._search()
        return self._render(patient, InvoiceCreateForm())

    def post(self, request):
        patient = self._patient()
        if patient is None:
            raise Http404
        form = InvoiceCreateForm(request.POST)
        if not form.is_valid():
            return self._render(patient, form, status=422)
        ids = form.cleaned_data["appointments"]
        try:
            invoice = services.invoice_create(
                organisation=self.organisation,
                actor=request.user,
                patient=patient,
                appointments=selectors.access_appointments(
                    organisation=self.organisation, public_ids=ids
                ),
                diagnosis=form.cleaned_data["diagnosis"],
            )
        except ValidationFailed as exc:
            form.add_error(None, exc.detail)
            return self._render(patient, form, reasons=_reasons(exc), status=422)
        except DomainError as exc:  # e.g. an archived record
            form.add_error(None, exc.detail)
            return self._render(patient, form, status=exc.status)
        messages.success(request, "Der Rechnungsentwurf wurde erstellt.")
        return redirect("invoice_detail", id=invoice.public_id)

    def _patient(self):
        public_id = self.request.GET.get("patient")
        if not public_id:
            return None
        return found(access_patient, organisation=self.organisation, public_id=public_id)

    def _search(self):
        form = PatientSearchForm(self.request.GET or None)
        patients = []
        if form.is_valid() and form.cleaned_data["q"]:
            found_patients = patient_list(organisation=self.organisation, q=form.cleaned_data["q"])
            patients = list(found_patients[:PATIENT_MATCHES])
        context = {"organisation": self.organisation, "search": form, "patients": patients}
        return render(self.request, self.template_name, context)

    def _render(self, patient, form, *, reasons=None, status=200):
        """The billable appointments as rows; after a refusal also the ticked ones
        that are no longer billable, each with the service's reasons."""
        reasons = reasons or {}
        rows = selectors.billable_appointments(
            organisation=self.organisation,
            patient=patient,
            including=[uid for uid in map(parse_public_id, reasons) if uid],
        )
        ticked = {str(v) for v in form["appointments"].value() or []}
        rows = [(a, str(a.public_id) in ticked, reasons.pop(str(a.public_id), [])) for a in rows]
        for unshown in reasons.values():  # ids that name no appointment of ours
            for reason in unshown:
                form.add_error(None, reason)
        context = {
            "organisation": self.organisation,
            "patient": patient,
            "form": form,
            "rows": rows,
        }
        return render(self.request, self.template_name, context, status=status)


def _reasons(exc: ValidationFailed) -> dict[str, list[str]]:
    """`errors.appointment_ids` of a refused invoice, `"<id>: <reason>"` each
    (docs/decisions.md, "Invoice creation errors"), by appointment id."""
    reasons: dict[str, list[str]] = {}
    for entry in (exc.errors or {}).get("appointment_ids", []):
        public_id, _, reason = entry.partition(": ")
        reasons.setdefault(public_id, []).append(reason)
    return reasons


class InvoiceMixin(StaffPageMixin):
    right = Right.BILLING

    def invoice(self):
        return found(
            selectors.access_invoice, organisation=self.organisation, public_id=self.kwargs["id"]
        )


def missing_items(invoice, user, errors: dict[str, list[str]]) -> list[dict]:
    """What issuing still needs, each with a link to where it is fixed: the
    Praxisdaten, the draft's own recipient, or the patient's record."""
    items = []
    for key, texts in errors.items():
        group, _, field = key.partition(".")
        if group == "practice":
            url = reverse("practice") + f"#id_{field}"
            where = "Einstellungen → Praxisdaten"
            if user.role != Role.ADMIN:
                where += " (nur Organisations-Admins)"
        elif invoice.recipient:
            url = reverse("invoice_recipient", args=[invoice.public_id]) + f"#id_empfaenger-{field}"
            where = "Rechnungsempfänger dieses Entwurfs"
        elif invoice.patient.invoice_recipient:
            url = reverse("akte", args=[invoice.patient.public_id]) + f"#id_empfaenger-{field}"
            where = "Rechnungsempfänger in der Akte"
        else:
            url = reverse("akte", args=[invoice.patient.public_id]) + f"#id_{field}"
            where = "Stammdaten der Akte"
        items.extend({"text": text, "url": url, "where": where} for text in texts)
    return items


class InvoiceDetailView(InvoiceMixin, TemplateView):
    """The invoice with its lines; a draft's lines can be changed here (quantity and
    unit price per line, a free line added below, a line removed after asking)."""

    template_name = "web/abrechnung/invoice_detail.html"

    def get_context_data(self, *, add_form=None, edit=None, **kwargs):
        invoice = self.invoice()
        lines = list(invoice.lines.all())
        allowed = services.TRANSITIONS[invoice.status]
        missing = []
        editable = invoice.status == InvoiceStatus.DRAFT
        if editable:
            errors = selectors.invoice_missing_data(invoice=invoice)
            missing = missing_items(invoice, self.request.user, errors)
            add_form = add_form or InvoiceLineForm(auto_id="id_neu-%s")
        return super().get_context_data(
            invoice=invoice,
            rows=[(line, self._edit_form(n, line, edit)) for n, line in enumerate(lines, 1)],
            lines=lines,
            editable=editable,
            add_form=add_form,
            recipient=invoice_parties(invoice).recipient,
            vat_groups=selectors.vat_breakdown(lines),
            missing=missing,
            can_issue=InvoiceStatus.ISSUED in allowed,
            can_pay=invoice.status in payments.PAYABLE,
            can_cancel=InvoiceStatus.CANCELLED in allowed,
            can_send=invoice.status in sending.SENDABLE,
            send_to=masked(address) if (address := sending.recipient_email(invoice)) else "",
            **kwargs,
        )

    def _edit_form(self, n: int, line, edit):
        """The row's form for quantity and unit price (its inputs sit in the row's
        cells and belong to the form `pos-<n>`); the refused one as it was typed."""
        if edit and edit[0] == line.public_id:
            form = edit[1]
            form.auto_id = f"id_pos-{n}-%s"
        else:
            form = InvoiceLineEditForm(
                auto_id=f"id_pos-{n}-%s",
                initial={"quantity": line.quantity, "unit_price": line.unit_price},
            )
        for field in form.fields.values():
            field.widget.attrs["form"] = f"pos-{n}"
        return form


def _field_errors(form, exc: ValidationFailed) -> None:
    """The service's refusal next to the fields it names (else above the form)."""
    for key, texts in (exc.errors or {}).items():
        for text in texts:
            form.add_error(key if key in form.fields else None, text)
    if not exc.errors:
        form.add_error(None, exc.detail)


class InvoiceLineAddView(InvoiceDetailView):
    """POST: a free line on the draft; refused input shows the page again (422)
    with the reasons next to the fields, and nothing is saved."""

    def post(self, request, id):
        invoice = self.invoice()
        form = InvoiceLineForm(request.POST, auto_id="id_neu-%s")
        if form.is_valid():
            try:
                line = services.invoice_line_add(invoice=invoice, actor=request.user, **form.line())
            except ValidationFailed as exc:
                _field_errors(form, exc)
            except DomainError as exc:
                messages.error(request, exc.detail)
                return redirect("invoice_detail", id=id)
            else:
                messages.success(request, f"Die Position „{line.name}“ wurde hinzugefügt.")
                return redirect(reverse("invoice_detail", args=[id]) + "#positionen")
        return self.render_to_response(self.get_context_data(add_form=form), status=422)


class InvoiceLineEditView(InvoiceDetailView):
    """POST: a line's new quantity and unit price; refused input shows the page
    again (422) with the reason in the line's row."""

    http_method_names = ["post", "options"]

    def post(self, request, id, line_id):
        invoice = self.invoice()
        form = InvoiceLineEditForm(request.POST)
        if form.is_valid():
            try:
                services.invoice_line_update(
                    invoice=invoice, line_id=line_id, actor=request.user, **form.cleaned_data
                )
            except NotFound:
                raise Http404 from None
            except ValidationFailed as exc:
                _field_errors(form, exc)
            except DomainError as exc:
                messages.error(request, exc.detail)
                return redirect("invoice_detail", id=id)
            else:
                messages.success(request, "Die Position wurde geändert.")
                return redirect(reverse("invoice_detail", args=[id]) + "#positionen")
        context = self.get_context_data(edit=(line_id, form))
        return self.render_to_response(context, status=422)


class InvoiceLineRemoveView(InvoiceMixin, View):
    """Ask first (GET), then remove the line (POST). The last line of an appointment
    makes it billable again."""

    template_name = "web/abrechnung/invoice_line_remove.html"

    def get(self, request, id, line_id):
        invoice = self.invoice()
        line = next((line for line in invoice.lines.all() if line.public_id == line_id), None)
        if line is None:
            raise Http404
        if invoice.status != InvoiceStatus.DRAFT:
            return redirect("invoice_detail", id=id)
        context = {"organisation": self.organisation, "invoice": invoice, "line": line}
        return render(request, self.template_name, context)

    def post(self, request, id, line_id):
        try:
            services.invoice_line_remove(
                invoice=self.invoice(), line_id=line_id, actor=request.user
            )
        except NotFound:
            raise Http404 from None
        except DomainError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, "Die Position wurde entfernt.")
        return redirect(reverse("invoice_detail", args=[id]) + "#positionen")


class InvoiceIssueView(InvoiceMixin, View):
    """Ask first, because the number cannot be taken back: GET shows what will be
    issued (or what is still missing, with links); POST issues. Incomplete data
    (422 invoice_incomplete) shows the list again and uses up no number."""

    template_name = "web/abrechnung/invoice_issue.html"

    def get(self, request, id):
        invoice = self.invoice()
        if invoice.status != InvoiceStatus.DRAFT:
            return redirect("invoice_detail", id=id)
        errors = selectors.invoice_missing_data(invoice=invoice)
        return self._render(invoice, errors, status=422 if errors else 200)

    def post(self, request, id):
        invoice = self.invoice()
        try:
            invoice = services.invoice_issue(invoice=invoice, actor=request.user)
        except InvoiceIncomplete as exc:
            return self._render(invoice, exc.errors or {}, status=422)
        except DomainError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, f"Die Rechnung {invoice.number} wurde gestellt.")
        return redirect("invoice_detail", id=id)

    def _render(self, invoice, errors, *, status):
        context = {
            "organisation": self.organisation,
            "invoice": invoice,
            "recipient": invoice_parties(invoice).recipient,
            "missing": missing_items(invoice, self.request.user, errors),
        }
        return render(self.request, self.template_name, context, status=status)


class InvoiceRecipientView(InvoiceMixin, View):
    """Who a draft goes to, when not the patient's default recipient or the patient."""

    template_name = "web/abrechnung/invoice_recipient.html"

    def get(self, request, id):
        invoice = self.invoice()
        return self._render(invoice, RecipientForm(recipient=invoice.recipient))

    def post(self, request, id):
        invoice = self.invoice()
        form = RecipientForm(request.POST)
        if not form.is_valid():
            return self._render(invoice, form, status=422)
        try:
            services.invoice_set_recipient(
                invoice=invoice, actor=request.user, recipient=form.recipient()
            )
        except DomainError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, "Der Rechnungsempfänger ist gespeichert.")
        return redirect("invoice_detail", id=id)

    def _render(self, invoice, form, *, status=200):
        context = {"organisation": self.organisation, "invoice": invoice, "form": form}
        return render(self.request, self.template_name, context, status=status)


class InvoiceStatusView(InvoiceMixin, View):
    """POST: mark paid (`bezahlt`); a refused change (409 invalid_status, e.g. a
    second click) is a German message and changes nothing."""

    ACTIONS = {
        "bezahlt": (services.invoice_pay, "Die Rechnung {number} ist als bezahlt markiert."),
    }

    def post(self, request, id, action):
        change, done = self.ACTIONS[action]
        try:
            invoice = change(invoice=self.invoice(), actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, done.format(number=invoice.number))
        return redirect("invoice_detail", id=id)


class InvoiceCancelView(InvoiceMixin, View):
    """Ask first: "Stornieren" (issued, paid) or "Entwurf verwerfen" (draft)."""

    template_name = "web/abrechnung/invoice_cancel.html"

    def get(self, request, id):
        context = {"organisation": self.organisation, "invoice": self.invoice()}
        return render(request, self.template_name, context)

    def post(self, request, id):
        invoice = self.invoice()
        was_draft = invoice.status == InvoiceStatus.DRAFT
        try:
            invoice = services.invoice_cancel(invoice=invoice, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(
                request,
                "Der Entwurf wurde verworfen; seine Termine sind wieder abrechenbar."
                if was_draft
                else f"Die Rechnung {invoice.number} wurde storniert (Stornorechnung "
                f"{invoice.cancellation_number}); ihre Termine sind wieder abrechenbar.",
            )
        return redirect("invoice_detail", id=id)


def _download(content: bytes, filename: str) -> HttpResponse:
    return HttpResponse(
        content,
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


class InvoicePdfView(InvoiceMixin, View):
    def get(self, request, id):
        invoice = self.invoice()
        content = services.invoice_document(invoice=invoice, actor=request.user)
        return _download(content, invoice_filename(invoice))


class CancellationPdfView(InvoiceMixin, View):
    """The Stornorechnung of an invoice cancelled after it was issued; 404 without."""

    def get(self, request, id):
        invoice = found(
            selectors.access_cancelled_invoice, organisation=self.organisation, public_id=id
        )
        content = services.invoice_document(
            invoice=invoice, actor=request.user, kind=DocumentKind.CANCELLATION
        )
        return _download(content, cancellation_filename(invoice))
