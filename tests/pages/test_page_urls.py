"""The page URLs that API answers and e-mails carry (lemniscus.page_urls) are built
from the pages' routes and keep the paths docs/decisions.md fixes ("Page URLs")."""

from datetime import UTC, datetime
from types import SimpleNamespace
from uuid import UUID
from zoneinfo import ZoneInfo

from django.test import override_settings

from lemniscus import page_urls

ID = UUID("0b9e5b2c-6a7d-4e8f-9a1b-2c3d4e5f6a7b")
COLUMN = UUID("1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f")


@override_settings(PUBLIC_BASE_URL="https://praxis.example")
def test_each_page_url_has_its_fixed_path():
    record = SimpleNamespace(public_id=ID)
    appointment = SimpleNamespace(
        public_id=ID,
        start=datetime(2026, 3, 1, 23, 30, tzinfo=UTC),  # 2 March in Berlin
        calendar_column=SimpleNamespace(public_id=COLUMN),
    )
    organisation = SimpleNamespace(zone=ZoneInfo("Europe/Berlin"))

    assert page_urls.patient_url(record) == f"https://praxis.example/akten/{ID}/"
    assert page_urls.patient_link_url("dl 1&2") == (
        "https://praxis.example/akten/verknuepfen/?doctolib_patient_id=dl+1%262"
    )
    assert page_urls.appointment_url(appointment) == f"https://praxis.example/termine/{ID}/"
    assert page_urls.calendar_url(appointment, organisation) == (
        f"https://praxis.example/kalender/?datum=2026-03-02&spalte={COLUMN}"
    )
    assert page_urls.transfer_dialog_url(record) == (f"https://praxis.example/uebertragungen/{ID}/")
