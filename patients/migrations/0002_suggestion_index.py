"""The suggestion search's index: on PostgreSQL the folded last name gets the "C"
collation, so that one plain B-tree index answers both `LIKE 'prefix%'` and
`ORDER BY last_name_folded, id` (with another collation a prefix LIKE cannot use a
plain index). SQLite has no "C" collation and needs none."""

from django.db import migrations, models


def collate_c(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            'ALTER TABLE patients_patient ALTER COLUMN last_name_folded TYPE varchar(100) COLLATE "C"'
        )


def collate_default(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE patients_patient ALTER COLUMN last_name_folded TYPE varchar(100) "
            'COLLATE "default"'
        )


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0001_initial"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="patient", name="patient_last_folded_idx"),
        migrations.RunPython(collate_c, collate_default),
        migrations.AddIndex(
            model_name="patient",
            index=models.Index(
                fields=["organisation", "last_name_folded", "id"], name="patient_last_folded_idx"
            ),
        ),
    ]
