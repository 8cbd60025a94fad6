"""Documentation is kept as written below the API (§ 630f BGB): on PostgreSQL,
triggers refuse what the services never do.

- An entry changes only its text (and whether and when it is finalised, and its
  appointment link) while it is open; once finalised (by hand, or because its
  `finalises_at` has passed) only its appointment link may still go to null, should
  the appointment be deleted. Entries are never deleted.
- Corrections, attachments and the entries' history rows are never changed or deleted.

Only the erasure of records past their retention (lemniscus.erasure) may delete."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION documentation_entry_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  open_columns text[] := ARRAY['text', 'finalised_at', 'appointment_id', 'updated_at'];
  final_columns text[] := ARRAY['appointment_id', 'updated_at'];
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF NOT lemniscus_erasure_allowed() THEN
      PERFORM lemniscus_refuse('Ein Dokumentationseintrag wird nie gelöscht (§ 630f BGB).');
    END IF;
    RETURN OLD;
  END IF;
  IF OLD.finalised_at IS NULL AND OLD.finalises_at > now() THEN
    IF (to_jsonb(NEW) - open_columns) IS DISTINCT FROM (to_jsonb(OLD) - open_columns) THEN
      PERFORM lemniscus_refuse('Von einem Eintrag ändert sich nur der Text.');
    END IF;
    RETURN NEW;
  END IF;
  IF OLD.finalised_at IS NULL THEN
    -- due: the nightly task writes when it finalised by itself
    final_columns := final_columns || ARRAY['finalised_at'];
  END IF;
  IF (to_jsonb(NEW) - final_columns) IS DISTINCT FROM (to_jsonb(OLD) - final_columns)
     OR (OLD.finalised_at IS NULL AND NEW.finalised_at IS DISTINCT FROM OLD.finalises_at
         AND NEW.finalised_at IS DISTINCT FROM OLD.finalised_at) THEN
    PERFORM lemniscus_refuse(
      'Der Eintrag ist abgeschlossen und wird nicht mehr geändert (§ 630f BGB); '
      'bitte eine Korrektur hinzufügen.');
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER documentation_entry_guard
  BEFORE UPDATE OR DELETE ON documentation_documentationentry
  FOR EACH ROW EXECUTE FUNCTION documentation_entry_guard();
CREATE TRIGGER documentation_correction_guard
  BEFORE UPDATE OR DELETE ON documentation_documentationcorrection
  FOR EACH ROW EXECUTE FUNCTION lemniscus_append_only_guard();
CREATE TRIGGER documentation_attachment_guard
  BEFORE UPDATE OR DELETE ON documentation_attachment
  FOR EACH ROW EXECUTE FUNCTION lemniscus_append_only_guard();
CREATE TRIGGER documentation_historicalentry_guard
  BEFORE UPDATE OR DELETE ON documentation_historicaldocumentationentry
  FOR EACH ROW EXECUTE FUNCTION lemniscus_append_only_guard();
"""

DROP = """
DROP TRIGGER IF EXISTS documentation_entry_guard ON documentation_documentationentry;
DROP TRIGGER IF EXISTS documentation_correction_guard ON documentation_documentationcorrection;
DROP TRIGGER IF EXISTS documentation_attachment_guard ON documentation_attachment;
DROP TRIGGER IF EXISTS documentation_historicalentry_guard
  ON documentation_historicaldocumentationentry;
DROP FUNCTION IF EXISTS documentation_entry_guard();
"""


def _run(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            with schema_editor.connection.cursor() as cursor:
                cursor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("documentation", "0001_initial"), ("billing", "0007_guards")]

    operations = [migrations.RunPython(_run(CREATE), _run(DROP))]
