"""Every German message addresses staff with "Sie" (issue 13, "Wording and formats"):
no catalog the app loads may word a message with "du", and the forms' messages come
out in our wording."""

import re

import pytest
from django.utils import translation
from django.utils.translation import trans_real

pytestmark = pytest.mark.django_db

DU = re.compile(
    r"\b(Gib|gib|du|Du|dein|Dein|deine|Deine|Stelle sicher|stelle sicher|Wähle|wähle|Lade|"
    r"Versuche|versuche|Überprüfe|überprüfe|Gebe|gebe|hast|bist|kannst|Nutze|nutze|Benutze|"
    r"benutze|Verwende|verwende|Prüfe|prüfe|Sende|sende|Schicke|schicke|Ändere|ändere)\b"
)


def test_no_german_message_says_du():
    with translation.override("de"):
        catalog = trans_real.translation("de")._catalog  # every app's, layered
        effective = {msgid: catalog[msgid] for msgid, _ in catalog.items()}  # as looked up
        said_du = {
            str(msgid): text
            for msgid, text in effective.items()
            if isinstance(text, str) and DU.search(text)
        }

    assert said_du == {}


def test_a_form_says_it_with_sie(client, admin_user):
    client.force_login(admin_user)

    response = client.post("/akten/neu/", {"last_name": "Bauer", "email": "kein-at"})

    assert "Bitte geben Sie eine gültige E-Mail-Adresse ein." in response.content.decode()


def test_the_staff_api_says_it_with_sie_too(api):
    response = api.post("/api/v1/patients/", {"last_name": "x" * 101}, format="json")

    assert response.json()["errors"]["last_name"] == ["Bitte höchstens 100 Zeichen."]
