"""Payments are unalterable below the API like issued invoices (staff-api.md 1.1,
"Unalterable below the API"; GoBD): a trigger refuses every UPDATE and DELETE of a
payment (a wrong one is reversed by a negative payment), but for the erasure of
records past retention. An invoice written off changes no more, like a cancelled
one (but for `updated_at` and `sent_at`). SQLite has no such guard."""

from django.db import migrations

FUNCTIONS = """
CREATE OR REPLACE FUNCTION billing_invoice_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  allowed text[] := ARRAY['status', 'paid_at', 'cancelled_at', 'cancellation_number',
    'cancellation_date', 'sent_at', 'written_off_at', 'write_off_reason', 'updated_at'];
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.number IS NOT NULL AND NOT lemniscus_erasure_allowed() THEN
      PERFORM lemniscus_refuse(format(
        'Die Rechnung %s ist gestellt und wird nie gelöscht (GoBD).', OLD.number));
    END IF;
    RETURN OLD;
  END IF;
  IF OLD.number IS NULL THEN
    RETURN NEW;  -- a draft, or a discarded draft
  END IF;
  IF (to_jsonb(NEW) - allowed) IS DISTINCT FROM (to_jsonb(OLD) - allowed) THEN
    PERFORM lemniscus_refuse(format(
      'Die Rechnung %s ist gestellt und kann nicht geändert werden (GoBD).', OLD.number));
  END IF;
  IF NEW.status = 'draft' THEN
    PERFORM lemniscus_refuse(format(
      'Die Rechnung %s ist gestellt und wird nicht wieder zum Entwurf.', OLD.number));
  END IF;
  IF OLD.status IN ('cancelled', 'written_off')
     AND (to_jsonb(NEW) - 'updated_at' - 'sent_at')
       IS DISTINCT FROM (to_jsonb(OLD) - 'updated_at' - 'sent_at') THEN
    PERFORM lemniscus_refuse(format(
      'Die Rechnung %s ist %s und kann nicht mehr geändert werden.', OLD.number,
      CASE OLD.status WHEN 'cancelled' THEN 'storniert' ELSE 'abgeschrieben' END));
  END IF;
  RETURN NEW;
END $$;
"""

TRIGGERS = """
CREATE TRIGGER billing_payment_guard BEFORE UPDATE OR DELETE ON billing_payment
  FOR EACH ROW EXECUTE FUNCTION lemniscus_append_only_guard();
"""

DROP = """
DROP TRIGGER IF EXISTS billing_payment_guard ON billing_payment;
"""


def _run(schema_editor, *scripts: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for script in scripts:
            cursor.execute(script)


def create(apps, schema_editor):
    _run(schema_editor, FUNCTIONS, TRIGGERS)


def drop(apps, schema_editor):
    _run(schema_editor, DROP)


class Migration(migrations.Migration):
    dependencies = [("billing", "0008_payments_write_off_sent")]

    operations = [migrations.RunPython(create, drop)]
