import pytest
from django.urls import reverse

from organisations.models import User


@pytest.fixture
def support(client):
    """A client logged in as a lemniscus support superuser."""
    User.objects.create_superuser("support@lemniscus.test", "support-geheim-1")
    assert client.login(email="support@lemniscus.test", password="support-geheim-1")
    return client


def url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)
