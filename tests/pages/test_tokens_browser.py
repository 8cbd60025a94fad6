"""Token management in a real Chromium: the Doctolib dot with and without the Zipper
plugin, deactivation, plan below XL, and the export list refreshing itself."""

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from doctolib_bridge.models import ExportJob, ExportState
from organisations.models import Plan
from tokens.models import Token, TokenKind
from tokens.services import hash_token, token_create

pytestmark = pytest.mark.django_db(transaction=True)

ACTIVATE = "Doctolib-Integration aktivieren"
DEACTIVATE = "Doctolib-Integration deaktivieren"


def test_activation_with_the_plugin(zipper_page, logged_in, admin_user, organisation, settings):
    page = logged_in(zipper_page, admin_user)
    page.goto("/einstellungen/tokens/")

    page.get_by_role("button", name=ACTIVATE).focus()
    page.keyboard.press("Enter")

    notice = page.locator("#doctolib-new")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Bitte laden Sie jetzt die lemniscus-Seite neu.")
    expect(notice.locator("[data-orga-id]")).to_have_text(organisation.orga_id)
    expect(page.get_by_role("link", name=DEACTIVATE)).to_have_class("dot on")
    raw = notice.locator("[data-token]").inner_text()
    token = Token.objects.get(token_hash=hash_token(raw))
    assert (token.kind, token.organisation_id, token.revoked_at) == (
        "doctolib",
        organisation.pk,
        None,
    )
    base = urlsplit(settings.PUBLIC_BASE_URL)
    assert page.evaluate("window.__zipper.configured") == [
        {
            "source": "lemniscus",
            "type": "zipper.configure",
            "token": raw,
            "orga_id": organisation.orga_id,
            "base_url": f"{base.scheme}://{base.netloc}",
        }
    ]

    page.reload()
    expect(page.locator("#doctolib-state")).to_contain_text(f"Token {token.display_prefix}…")
    assert raw not in page.content()


def test_activation_without_the_plugin_creates_nothing(page, logged_in, admin_user):
    logged_in(page, admin_user).goto("/einstellungen/tokens/")

    page.get_by_role("button", name=ACTIVATE).click()

    expect(page.locator("#doctolib-error")).to_have_text(
        re.compile(r"^Das Doctolib-Plugin „Zipper“ wurde nicht gefunden\. Bitte ")
    )
    expect(page.get_by_role("button", name=ACTIVATE)).to_be_enabled()
    expect(page.locator("#doctolib-new")).to_be_hidden()
    assert not Token.objects.exists()


def test_deactivation_revokes_at_once(zipper_page, logged_in, admin_user, organisation):
    token, _ = token_create(organisation=organisation, kind=TokenKind.DOCTOLIB)
    page = logged_in(zipper_page, admin_user)
    page.goto("/einstellungen/tokens/")

    page.get_by_role("link", name=DEACTIVATE).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Doctolib-Integration deaktivieren?")
    page.get_by_role("button", name="Deaktivieren").click()

    expect(page.get_by_role("status")).to_contain_text("Die Doctolib-Integration ist deaktiviert.")
    expect(page.get_by_role("button", name=ACTIVATE)).to_have_class("dot")
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_below_plan_xl_nothing_can_be_activated(zipper_page, logged_in, admin_user, organisation):
    organisation.plan = Plan.L
    organisation.save()
    page = logged_in(zipper_page, admin_user)
    page.goto("/einstellungen/tokens/")

    expect(page.locator("[data-plan-required]")).to_contain_text("Verfügbar ab dem XL-Abo")
    expect(page.get_by_role("button", name=ACTIVATE)).to_have_count(0)
    status = page.evaluate(
        """() => fetch("/einstellungen/tokens/doctolib/aktivieren/", {
             method: "POST",
             headers: JSON.parse(document.body.getAttribute("hx-headers")),
           }).then(r => r.json().then(body => [r.status, body.detail]))"""
    )
    assert status == [403, "Die Doctolib-Integration ist nur im XL- oder XXL-Abo enthalten."]
    assert not Token.objects.exists()
    assert page.evaluate("window.__zipper.configured") == []


def test_personal_api_token_shown_once(page, logged_in, admin_user):
    logged_in(page, admin_user).goto("/einstellungen/tokens/")

    page.get_by_label("Benutzer").select_option(label=admin_user.email)
    page.get_by_label("Bezeichnung").fill("Auswertung")
    page.get_by_role("button", name="Token erstellen").click()

    shown = page.locator("[data-new-api-token] code").inner_text()
    assert shown.startswith("lmn_api_")
    assert Token.objects.get(kind=TokenKind.API).token_hash == hash_token(shown)


def test_running_export_refreshes_until_done(page, logged_in, admin_user, organisation):
    job = ExportJob.objects.create(organisation=organisation, state=ExportState.RUNNING)
    logged_in(page, admin_user).goto("/einstellungen/tokens/")
    expect(page.locator("#exporte [data-export-state]")).to_have_attribute(
        "data-export-state", "running"
    )

    ExportJob.objects.filter(pk=job.pk).update(
        state=ExportState.FAILED, error="Der Export ist wegen eines internen Fehlers abgebrochen."
    )

    expect(page.locator("#exporte")).to_contain_text("fehlgeschlagen", timeout=6000)
    expect(page.locator("#exporte")).to_contain_text("wegen eines internen Fehlers")
    expect(page.locator("#exporte")).not_to_have_attribute("hx-trigger", "every 2s")
