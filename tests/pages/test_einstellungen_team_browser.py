"""Einstellungen → Mitarbeiter in a real Chromium: an admin invites a staff member, the
invitation e-mail carries the set-password link, and the new member (in a browser of
their own) sets a password, logs in and sees the start page."""

import re

import pytest
from playwright.sync_api import expect

from organisations.models import Role, User

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "Seeblick-2026!"


def test_an_admin_invites_a_member_who_then_logs_in(
    page, browser, live_server, logged_in, admin_user, mailoutbox
):
    admin = logged_in(page, admin_user)
    admin.goto("/einstellungen/")
    admin.get_by_role("link", name=re.compile("^Mitarbeiter")).click()
    admin.get_by_role("link", name="Mitarbeiter/in einladen").click()
    admin.get_by_label("Vorname").fill("Ben")
    admin.get_by_label("Nachname").fill("Kraus")
    admin.get_by_label("E-Mail").fill("ben.kraus@praxis.test")
    admin.get_by_label("Rolle").select_option(label="Mitarbeiter/in")
    admin.get_by_label("Abrechnung").check()
    admin.get_by_role("button", name="Einladen").click()

    expect(admin.get_by_role("heading", level=1)).to_have_text("Mitarbeiter")
    row = admin.get_by_role("row").filter(has_text="ben.kraus@praxis.test")
    expect(row).to_contain_text("eingeladen")
    expect(row).to_contain_text("Termine, Dokumentation, Abrechnung")
    member = User.objects.get(email="ben.kraus@praxis.test")
    assert (member.role, member.has_usable_password()) == (Role.STAFF, False)
    [mail] = mailoutbox
    assert mail.to == ["ben.kraus@praxis.test"]
    link = re.search(r"https?://[^/\s]+(/passwort/festlegen/\S+/)", mail.body).group(1)

    context = browser.new_context(base_url=live_server.url, locale="de-DE")
    context.set_default_timeout(10_000)
    refused = []
    newcomer = context.new_page()
    newcomer.on(
        "console",
        lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
    )
    try:
        newcomer.goto(link)
        expect(newcomer.get_by_role("heading", level=1)).to_have_text("Passwort festlegen")
        newcomer.get_by_label("Neues Passwort", exact=True).fill(PASSWORD)
        newcomer.get_by_label("Neues Passwort bestätigen").fill(PASSWORD)
        newcomer.get_by_role("button", name="Passwort speichern").click()
        expect(newcomer.get_by_role("heading", level=1)).to_have_text("Passwort gespeichert")
        newcomer.get_by_role("link", name="Jetzt anmelden").click()
        newcomer.get_by_label("E-Mail").fill("ben.kraus@praxis.test")
        newcomer.get_by_label("Passwort").fill(PASSWORD)
        newcomer.get_by_role("button", name="Anmelden").click()
        expect(newcomer.get_by_role("heading", level=1)).to_contain_text("Ben")
        assert newcomer.url == f"{live_server.url}/"

        newcomer.goto(link)  # the link works once
        expect(newcomer.get_by_role("heading", level=1)).to_have_text("Link nicht mehr gültig")
    finally:
        context.close()
    assert not refused, f"blocked by the Content-Security-Policy: {refused}"
