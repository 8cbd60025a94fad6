"""Browser tests: Playwright driving Debian's Chromium against the live server.

`page` is a fresh browser tab per test; `logged_in` logs a user in through a
session cookie; `zipper_page` has the fake Zipper plugin injected, which answers
`zipper.ping` and records `zipper.configure` and the action events. A failing
browser test leaves a screenshot in test-artifacts/."""

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# between browser steps are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

FAKE_ZIPPER = """
window.__zipper = { configured: [], actions: [] };
window.addEventListener("message", function (event) {
  const data = event.data;
  if (event.source !== window || !data || data.source !== "lemniscus") return;
  if (data.type === "zipper.ping") {
    window.postMessage({ source: "zipper", type: "zipper.pong", version: "fake-1.0" },
                       window.location.origin);
  } else if (data.type === "zipper.configure") {
    window.__zipper.configured.push(data);
  } else {
    window.__zipper.actions.push(data);
  }
});
"""


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM} (scripts/bootstrap installs it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def _new_page(request, browser, live_server, init_script: str | None):
    context = browser.new_context(base_url=live_server.url, locale="de-DE")
    context.set_default_timeout(10_000)
    if init_script:
        context.add_init_script(init_script)
    page = context.new_page()
    refused = []  # what the Content-Security-Policy blocked: a page that breaks under it
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield page
    assert not refused, f"blocked by the Content-Security-Policy: {refused}"
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.fixture
def page(request, browser, live_server):
    """A tab without the Zipper plugin."""
    yield from _new_page(request, browser, live_server, None)


@pytest.fixture
def zipper_page(request, browser, live_server):
    """A tab where the fake Zipper plugin answers."""
    yield from _new_page(request, browser, live_server, FAKE_ZIPPER)


@pytest.fixture
def logged_in(live_server):
    """logged_in(page, user): the page's browser carries a session of `user`."""

    def login(page, user):
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.save()
        page.context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": session.session_key,
              "url": live_server.url}]
        )  # fmt: skip
        return page

    return login
