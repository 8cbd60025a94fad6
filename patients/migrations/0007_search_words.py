"""Search as people type names (staff-api.md 1.1, "Search"): every word of a record's
names in its folded forms, and on PostgreSQL a trigram index (pg_trgm) that answers
`search_words LIKE '% word%'`. Existing records get their words here."""

from django.db import migrations, models

from lemniscus.text import name_words

BATCH = 2000


def fill(apps, schema_editor):
    Patient = apps.get_model("patients", "Patient")
    last = 0
    while True:
        batch = list(
            Patient.objects.filter(pk__gt=last).order_by("pk").only("first_name", "last_name")[
                :BATCH
            ]
        )
        if not batch:
            return
        for patient in batch:
            patient.search_words = f" {' '.join(name_words(patient.first_name, patient.last_name))} "
        Patient.objects.bulk_update(batch, ["search_words"])
        last = batch[-1].pk


def trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        schema_editor.execute(
            "CREATE INDEX patient_search_words_trgm ON patients_patient "
            "USING gin (search_words gin_trgm_ops)"
        )


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS patient_search_words_trgm")


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0006_reminder_consent"),
    ]

    operations = [
        migrations.AddField(
            model_name="patient",
            name="search_words",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.RunPython(trigram_index, drop_trigram_index),
    ]
