"""The Sync-Protokoll page: the organisation's bridge calls, newest first, with their
sentence; filters; the troubleshooting tips; constant queries."""

from datetime import timedelta

import pytest
from django.utils import timezone

from doctolib_bridge.models import SyncLogEntry
from organisations.models import Role
from tests.factories import SyncLogEntryFactory, UserFactory

pytestmark = pytest.mark.django_db

TIPS = [
    "Verbindung zu Zipper funktioniert nicht?",
    "Zuerst die Doctolib-Seite neu laden, dann die lemniscus-Seite.",
    "Termine erscheinen nicht in lemniscus?",
    "Prüfen, ob die Akte mit Doctolib verknüpft ist.",
    "Terminänderungen aus Doctolib fehlen?",
    "Den Termin in Doctolib erneut in lemniscus speichern.",
]


@pytest.fixture
def staff(client, organisation):
    """Any member reads the sync log, without special rights."""
    user = UserFactory(
        organisation=organisation, role=Role.STAFF, can_documentation=False, can_appointments=False
    )
    client.force_login(user)
    return client


@pytest.fixture
def entries(organisation):
    def entry(minutes_ago, **fields):
        made = SyncLogEntryFactory(organisation=organisation, **fields)
        SyncLogEntry.objects.filter(pk=made.pk).update(
            created_at=timezone.now() - timedelta(minutes=minutes_ago)
        )
        return made

    return {
        "pushed": entry(30, status=201, outcome="created", doctolib_appointment_id="dl-a1",
                        doctolib_patient_id="dl-p1", detail="Termin angelegt: Sentence one."),
        "refused": entry(20, status=422, outcome="", code="patient_not_linked",
                         doctolib_appointment_id="dl-a2", doctolib_patient_id="dl-p2",
                         detail="Dieser Doctolib-Patient ist mit keiner Akte verknüpft."),
        "conflict": entry(10, method="POST", endpoint="/api/zipper/v1/links", status=409,
                          outcome="", code="link_conflict", doctolib_appointment_id="",
                          doctolib_patient_id="dl-p1", detail="Verknüpfung widerspricht."),
    }  # fmt: skip


def details(html: str) -> list[str]:
    rows = html.split("<tbody>")[1].split("</tbody>")[0].split("<tr")[1:]
    return [row.split("<td>")[-1].split("</td>")[0] for row in rows]


def test_sync_log_lists_the_organisations_calls_newest_first_with_tips(
    staff, entries, other_organisation
):
    SyncLogEntryFactory(organisation=other_organisation, detail="Fremder Aufruf.")
    response = staff.get("/sync-protokoll/")
    html = response.content.decode()
    assert response.status_code == 200
    assert details(html) == [
        "Verknüpfung widerspricht.",
        "Dieser Doctolib-Patient ist mit keiner Akte verknüpft.",
        "Termin angelegt: Sentence one.",
    ]
    assert "Fremder Aufruf." not in html
    assert "409 · Verknüpfung widersprüchlich" in html
    assert "201 · angelegt" in html
    assert "POST /api/zipper/v1/links" in html
    for tip in TIPS:
        assert tip in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"ergebnis": "fehler"}, ["Verknüpfung widerspricht.", "Dieser Doctolib-Patient"]),
        ({"ergebnis": "ok"}, ["Termin angelegt"]),
        ({"ergebnis": "outcome:created"}, ["Termin angelegt"]),
        ({"ergebnis": "code:patient_not_linked"}, ["Dieser Doctolib-Patient"]),
        ({"patient": "dl-p1"}, ["Verknüpfung widerspricht.", "Termin angelegt"]),
        ({"termin": "dl-a2"}, ["Dieser Doctolib-Patient"]),
        ({"ergebnis": "fehler", "patient": "dl-p1"}, ["Verknüpfung widerspricht."]),
        ({"patient": "dl-unbekannt"}, []),
    ],
)
def test_sync_log_filters(staff, entries, query, expected):
    html = staff.get("/sync-protokoll/", query).content.decode()
    if expected:
        shown = details(html)
        assert len(shown) == len(expected)
        assert all(s.startswith(e) for s, e in zip(shown, expected, strict=True))
    else:
        assert "Keine Einträge für diese Filter." in html


def test_sync_log_bad_filter_says_so_and_shows_everything(staff, entries):
    response = staff.get("/sync-protokoll/", {"ergebnis": "kaputt", "patient": "x" * 65})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Bitte eine gültige Auswahl treffen." in html
    assert len(details(html)) == 3


def test_sync_log_is_paginated_and_keeps_the_filters(staff, organisation):
    SyncLogEntryFactory.create_batch(
        55, organisation=organisation, status=409, code="link_conflict"
    )
    html = staff.get("/sync-protokoll/", {"ergebnis": "fehler"}).content.decode()
    assert "55 Einträge" in html
    assert "Seite 1 von 2" in html
    assert 'href="?ergebnis=fehler&amp;page=2"' in html


@pytest.mark.parametrize("rows", [2, 80])
def test_sync_log_queries_do_not_grow_with_rows(
    staff, organisation, rows, django_assert_max_num_queries
):
    SyncLogEntryFactory.create_batch(rows, organisation=organisation)
    with django_assert_max_num_queries(5):
        assert staff.get("/sync-protokoll/").status_code == 200
