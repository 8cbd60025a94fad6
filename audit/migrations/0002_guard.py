"""The Protokoll is append-only below the API: on PostgreSQL a trigger refuses every
UPDATE and DELETE of its rows (lemniscus_append_only_guard, migration billing 0007),
but a DELETE inside the erasure of a record past its retention."""

from django.db import migrations

CREATE = """
CREATE TRIGGER audit_auditevent_guard BEFORE UPDATE OR DELETE ON audit_auditevent
  FOR EACH ROW EXECUTE FUNCTION lemniscus_append_only_guard();
"""
DROP = "DROP TRIGGER IF EXISTS audit_auditevent_guard ON audit_auditevent;"


def _run(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            with schema_editor.connection.cursor() as cursor:
                cursor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial"), ("billing", "0007_guards")]

    operations = [migrations.RunPython(_run(CREATE), _run(DROP))]
