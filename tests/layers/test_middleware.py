"""The staff middleware runs for pages, the admin and the staff API, and not for the
Zipper API (lemniscus.middleware.StaffOnlyMiddleware)."""

import pytest
from django.conf import settings
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_staff_middleware_is_run_by_the_wrapper():
    assert "lemniscus.middleware.StaffOnlyMiddleware" in settings.MIDDLEWARE
    for name in (
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "axes.middleware.AxesMiddleware",
    ):
        assert name in settings.STAFF_MIDDLEWARE
        assert name not in settings.MIDDLEWARE
    assert "django.middleware.csrf.CsrfViewMiddleware" in settings.MIDDLEWARE


def test_pages_still_refuse_a_post_without_csrf_token(admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.get("/").status_code == 200  # session and user work
    assert client.post("/akten/neu/", {"last_name": "Muster"}).status_code == 403


def test_the_admin_login_page_works(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert "csrftoken" in response.cookies
