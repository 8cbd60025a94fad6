"""Documentation and attachments in a real Chromium (issue 11): writing, finalising
(asked in the page) and correcting an entry; uploading by drag and drop with a
progress bar, and the preview of an image and a PDF."""

import base64
import io

import pytest
from playwright.sync_api import expect

from documentation.models import Attachment, DocumentationEntry
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def patient(organisation):
    return PatientFactory(organisation=organisation, first_name="Felix", last_name="Bauer")


@pytest.fixture
def no_native_dialogs():
    def guard(page):
        page.on("dialog", lambda dialog: pytest.fail(f"native dialog: {dialog.message}"))
        return page

    return guard


def test_write_finalise_and_correct_an_entry(
    page, logged_in, admin_user, patient, no_native_dialogs
):
    page = no_native_dialogs(logged_in(page, admin_user))
    page.goto(f"/akten/{patient.public_id}/")

    page.get_by_role("link", name="Dokumentation schreiben").click()
    page.get_by_label("Dokumentation").fill("Erstbefund: LWS eingeschränkt, Schmerz 6/10")
    page.get_by_role("button", name="Speichern").click()

    timeline = page.get_by_role("region", name="Dokumentation")
    expect(page.get_by_role("status")).to_contain_text("Der Eintrag ist gespeichert.")
    expect(timeline).to_contain_text("Erstbefund: LWS eingeschränkt, Schmerz 6/10")
    expect(timeline).to_contain_text("Änderbar bis Ende")

    timeline.get_by_role("link", name="Abschließen …").click()
    question = page.get_by_role("alertdialog", name="Eintrag abschließen?")
    expect(question).to_be_visible()
    assert DocumentationEntry.objects.get().finalised_at is None
    question.get_by_role("button", name="Ja, abschließen").click()

    expect(timeline).to_contain_text("Abgeschlossen")
    expect(timeline.get_by_role("link", name="Bearbeiten")).to_have_count(0)
    timeline.get_by_role("link", name="Korrektur hinzufügen").click()

    expect(page.locator("blockquote")).to_contain_text("Erstbefund: LWS eingeschränkt")
    page.get_by_label("Korrektur").fill("Schmerz 4/10, nicht 6/10")
    page.get_by_role("button", name="Korrektur speichern").click()

    expect(timeline).to_contain_text("Erstbefund: LWS eingeschränkt, Schmerz 6/10")
    expect(timeline.locator(".doku-correction")).to_contain_text("Schmerz 4/10, nicht 6/10")
    entry = DocumentationEntry.objects.get()
    assert entry.text == "Erstbefund: LWS eingeschränkt, Schmerz 6/10"
    assert entry.corrections.count() == 1


def _png(width=60, height=40) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 140, 90)).save(buffer, format="PNG")
    return buffer.getvalue()


def _drop(page, target, name: str, mime: str, content: bytes) -> None:
    """Drop a file on `target` as the operating system's drag and drop would."""
    transfer = page.evaluate_handle(
        """([name, mime, data]) => {
            const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: mime }));
            return transfer;
        }""",
        [name, mime, base64.b64encode(content).decode()],
    )
    target.dispatch_event("dragenter", {"dataTransfer": transfer})
    target.dispatch_event("drop", {"dataTransfer": transfer})


def test_drop_a_file_see_the_progress_and_preview_it(page, logged_in, admin_user, patient):
    page = logged_in(page, admin_user)
    page.goto(f"/akten/{patient.public_id}/")
    # slow the upload down so that the progress bar can be seen moving
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 400_000},
    )
    region = page.get_by_role("region", name="Anhänge")
    padded = _png() + b"\0" * 1_500_000  # still a PNG by its content

    _drop(page, region.locator("[data-dropzone]"), "Röntgen Knie.png", "image/png", padded)

    bar = region.locator("progress")
    expect(bar).to_be_visible()
    page.wait_for_function(
        "() => { const v = document.querySelector('progress').value; return v > 0 && v < 100; }"
    )
    expect(region.get_by_role("cell", name="Röntgen Knie.png")).to_be_visible(timeout=30_000)
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    assert Attachment.objects.get().content_type == "image/png"

    region.get_by_role("button", name="Vorschau").click()
    dialog = page.get_by_role("dialog", name="Röntgen Knie.png")
    expect(dialog).to_be_visible()
    image = dialog.get_by_role("img", name="Röntgen Knie.png")
    expect(image).to_be_visible()
    page.wait_for_function("() => document.querySelector('dialog img').naturalWidth === 60")
    dialog.get_by_role("button", name="Schließen").click()
    expect(dialog).to_be_hidden()


def test_a_pdf_is_previewed_in_the_page(page, logged_in, admin_user, patient):
    from weasyprint import HTML

    pdf = HTML(string="<p>Arztbrief</p>").write_pdf()
    page = logged_in(page, admin_user)
    page.goto(f"/akten/{patient.public_id}/")
    region = page.get_by_role("region", name="Anhänge")

    region.get_by_label("Datei").set_input_files(
        {"name": "Arztbrief.pdf", "mimeType": "application/pdf", "buffer": pdf}
    )
    region.get_by_label("Beschreibung (optional)").fill("vom Orthopäden")
    region.get_by_role("button", name="Hochladen").click()
    expect(region.get_by_role("cell", name="vom Orthopäden")).to_be_visible()

    with page.expect_response(lambda r: "/datei/?vorschau=1" in r.url) as preview:
        region.get_by_role("button", name="Vorschau").click()
    assert preview.value.status == 200
    assert preview.value.headers["content-type"] == "application/pdf"
    # (Chromium hands the body to its PDF viewer; the bytes as the page's session gets them:)
    assert page.request.get(preview.value.url).body() == pdf
    dialog = page.get_by_role("dialog", name="Arztbrief.pdf")
    expect(dialog.locator("iframe")).to_be_visible()


def test_a_file_that_is_not_pdf_jpeg_or_png_gets_a_german_message(
    page, logged_in, admin_user, patient
):
    page = logged_in(page, admin_user)
    page.goto(f"/akten/{patient.public_id}/")
    region = page.get_by_role("region", name="Anhänge")

    _drop(page, region.locator("[data-dropzone]"), "brief.pdf", "application/pdf", b"Hallo")

    expect(region.locator("[data-status]")).to_have_text(
        "Nur PDF, JPEG oder PNG (nach dem Inhalt der Datei)."
    )
    assert not Attachment.objects.exists()
