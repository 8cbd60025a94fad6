"""The transfer dialog at a staged transfer's `dialog_url` (zipper-api.md, "Staged
transfers"): what saving would do, and "Termin in lemniscus speichern", which commits
through the same service as the Zipper API's commit. An unlinked patient is linked
first, on the linking page, which comes back here."""

from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.views.generic import TemplateView

from appointments.external import ExternalPlan, PushOutcome
from appointments.models import ServiceChainMatch
from doctolib_bridge.appointment_push import (
    access_transfer,
    transfer_commit,
    transfer_preview,
    transfer_unusable,
)
from lemniscus.errors import DomainError
from web.mixins import StaffPageMixin
from web.views.kalender import CalendarPageMixin, appointment_calendar_path, found
from web.views.kalender_grid import lock_reason

OUTCOMES = {
    PushOutcome.CREATED: "Speichern legt den Termin in lemniscus neu an (Status „erledigt“).",
    PushOutcome.UPDATED: "Der Termin ist schon in lemniscus; Speichern übernimmt, was sich "
    "in Doctolib geändert hat (Patient, Kalenderspalte, Beginn, Dauer, Anmerkung).",
    PushOutcome.UNCHANGED: "Der Termin ist schon so in lemniscus gespeichert; Speichern "
    "ändert nichts.",
}
SAVED = {
    PushOutcome.CREATED: "Der Termin wurde in lemniscus gespeichert.",
    PushOutcome.UPDATED: "Der Termin wurde in lemniscus aktualisiert.",
    PushOutcome.UNCHANGED: "Der Termin war schon so gespeichert; es wurde nichts geändert.",
}


def chain_sentence(plan: ExternalPlan) -> str:
    """How the service chain was found, in the words of the help text."""
    name, sync_id = plan.request.motive_name, plan.request.motive_sync_id
    what = f"die Synchronisationskennung „{sync_id}“" if sync_id else f"den Besuchsgrund „{name}“"
    sentence = {
        ServiceChainMatch.SYNC_ID: f"Gefunden über die Synchronisationskennung „{sync_id}“ "
        "in den Anmerkungen der Leistungskette.",
        ServiceChainMatch.DESCRIPTION: f"Gefunden, weil die Beschreibung dem Besuchsgrund "
        f"„{name}“ gleicht.",
        ServiceChainMatch.NONE: f"Keine Leistungskette passt auf {what}; der Termin wird ohne "
        "Leistungskette gespeichert.",
        ServiceChainMatch.AMBIGUOUS: f"Mehrere Leistungsketten passen auf {what}; der Termin "
        "wird ohne Leistungskette gespeichert.",
        ServiceChainMatch.MANUAL: "Von Hand in lemniscus gewählt.",
    }.get(plan.chain_match, "")
    if not plan.rematched:
        sentence = f"Bleibt, wie sie ist (Besuchsgrund unverändert). {sentence}"
    return sentence


class TransferDialogView(StaffPageMixin, CalendarPageMixin, TemplateView):
    template_name = "web/kalender/uebertragung.html"

    def transfer(self):
        return found(
            access_transfer, organisation=self.organisation, transfer_id=self.kwargs["transfer_id"]
        )

    def post(self, request, *args, **kwargs):
        transfer = self.transfer()
        try:
            _, plan = transfer_commit(
                organisation=self.organisation, transfer_id=transfer.public_id
            )
        except DomainError as exc:
            messages.error(request, exc.detail)
        else:
            messages.success(request, SAVED[plan.outcome])
            for warning in plan.warnings:
                messages.warning(request, warning["detail"])
        return redirect(request.path)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        transfer = self.transfer()
        zone = self.organisation.zone
        context.update(transfer=transfer, unusable=transfer_unusable(transfer=transfer))
        if transfer.committed_at is not None:
            appointment = transfer.appointment
            context["appointment"] = appointment
            if appointment is not None:
                context["calendar_url"] = appointment_calendar_path(appointment, zone)
            return context
        if context["unusable"] is not None:
            return context
        plan = transfer_preview(transfer=transfer)
        context.update(
            plan=plan,
            start=plan.request.start.astimezone(zone),
            column_name=plan.column.name if plan.column else plan.column_name,
            chain_sentence=chain_sentence(plan),
            lock=lock_reason(plan.existing) if plan.invoiced else "",
            outcome_sentence=plan.refusal.detail if plan.refusal else OUTCOMES[plan.outcome],
            link_url=f"{reverse('akte_verknuepfen')}?"
            + urlencode(
                {
                    "doctolib_patient_id": plan.request.patient_external_id,
                    "next": dialog_path(transfer),
                }
            ),
        )
        return context


def dialog_path(transfer) -> str:
    return reverse("uebertragung", args=[transfer.public_id])
