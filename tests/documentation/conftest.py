import io

import pytest
from django.db import connection
from PIL import Image

from tests.factories import PatientFactory


def png_bytes(size=(4, 3), color=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), (10, 120, 200)).save(buffer, format="JPEG")
    return buffer.getvalue()


# A complete one-page PDF (what a scanner or a letter from a doctor would be).
PDF_BYTES = b"""%PDF-1.4
1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj
2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj
3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] >> endobj
trailer << /Root 1 0 R >>
%%EOF
"""


@pytest.fixture
def patient(organisation):
    return PatientFactory(organisation=organisation, first_name="Dörte", last_name="Bauer")


def backdate(entry, **columns) -> None:
    """Move an entry in time (created_at, finalises_at) as a test needs it: below the
    database guard, which refuses such changes to anyone else (a superuser's session
    may switch triggers off)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        try:
            type(entry).objects.filter(pk=entry.pk).update(**columns)
        finally:
            if connection.vendor == "postgresql":
                cursor.execute("SET session_replication_role = origin")
    entry.refresh_from_db()
