from datetime import datetime, time, timedelta

from django.utils import timezone
from django.views.generic import TemplateView

from appointments.selectors import appointment_list
from doctolib_bridge.appointment_push import deserialise_payload
from doctolib_bridge.selectors import sync_log_list, transfer_open_list
from lemniscus.tenancy import scoped
from patients.models import Patient
from web.mixins import StaffPageMixin

TRANSFER_LIMIT = 20
PROBLEM_LIMIT = 10
PROBLEM_DAYS = 7


class StartView(StaffPageMixin, TemplateView):
    """Start page: today's appointments, open transfers, problems from the sync log."""

    template_name = "web/start.html"

    def get_context_data(self, **kwargs):
        organisation = self.organisation
        today = organisation.today()
        day_start = datetime.combine(today, time.min, tzinfo=organisation.zone)
        day_end = datetime.combine(today + timedelta(days=1), time.min, tzinfo=organisation.zone)
        appointments = appointment_list(organisation=organisation).filter(
            start__gte=day_start, start__lt=day_end
        )
        problems = sync_log_list(organisation=organisation).filter(
            status__gte=400, created_at__gte=timezone.now() - timedelta(days=PROBLEM_DAYS)
        )[:PROBLEM_LIMIT]
        return super().get_context_data(
            today=today,
            appointments=appointments,
            transfers=self._open_transfers(),
            problems=problems,
            problem_days=PROBLEM_DAYS,
            **kwargs,
        )

    def _open_transfers(self) -> list[dict]:
        transfers = list(transfer_open_list(organisation=self.organisation)[:TRANSFER_LIMIT])
        payloads = [deserialise_payload(t.payload) for t in transfers]
        patients = {
            p.doctolib_patient_id: p
            for p in scoped(Patient, self.organisation).filter(
                doctolib_patient_id__in={payload["doctolib_patient_id"] for payload in payloads}
            )
        }
        return [
            {
                "public_id": transfer.public_id,
                "created_at": transfer.created_at,
                "start": payload["start"],
                "agenda": payload["agenda"]["name"],
                "motive": (payload.get("visit_motive") or {}).get("name", ""),
                "doctolib_patient_id": payload["doctolib_patient_id"],
                "patient": patients.get(payload["doctolib_patient_id"]),
            }
            for transfer, payload in zip(transfers, payloads, strict=True)
        ]
