"""Issued invoices are unalterable below the API (staff-api.md 1.1, "Unalterable below
the API"; GoBD): on PostgreSQL, triggers refuse what the services never do.

- An issued invoice (one with a number: issued, paid, or cancelled after issue) may
  change only the columns a transition sets (ALLOWED_COLUMNS), never go back to
  draft, and not change at all once cancelled (but for `updated_at`/`sent_at`). It
  is never deleted.
- Its lines are never inserted, changed or deleted.
- Archived PDFs (InvoiceDocument) and history rows are never changed or deleted.
- A number range never goes back and is never deleted while it has numbers.

Only the erasure of records past their retention (`lemniscus.erasure.erasure`) may
delete, by setting `lemniscus.erasure` for its own transaction. SQLite has no such
guard; there the services are the only writers."""

from django.db import migrations

ALLOWED_COLUMNS = (
    "status",
    "paid_at",
    "cancelled_at",
    "cancellation_number",
    "cancellation_date",
    "sent_at",
    "written_off_at",
    "write_off_reason",
    "updated_at",
)

FUNCTIONS = """
CREATE OR REPLACE FUNCTION lemniscus_erasure_allowed() RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT coalesce(current_setting('lemniscus.erasure', true), '') = 'on'
$$;

CREATE OR REPLACE FUNCTION lemniscus_refuse(message text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '%%', message USING ERRCODE = 'restrict_violation';
END $$;

CREATE OR REPLACE FUNCTION billing_invoice_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  allowed text[] := ARRAY[%(allowed)s];
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.number IS NOT NULL AND NOT lemniscus_erasure_allowed() THEN
      PERFORM lemniscus_refuse(format(
        'Die Rechnung %%s ist gestellt und wird nie gelöscht (GoBD).', OLD.number));
    END IF;
    RETURN OLD;
  END IF;
  IF OLD.number IS NULL THEN
    RETURN NEW;  -- a draft, or a discarded draft
  END IF;
  IF (to_jsonb(NEW) - allowed) IS DISTINCT FROM (to_jsonb(OLD) - allowed) THEN
    PERFORM lemniscus_refuse(format(
      'Die Rechnung %%s ist gestellt und kann nicht geändert werden (GoBD).', OLD.number));
  END IF;
  IF NEW.status = 'draft' THEN
    PERFORM lemniscus_refuse(format(
      'Die Rechnung %%s ist gestellt und wird nicht wieder zum Entwurf.', OLD.number));
  END IF;
  IF OLD.status = 'cancelled' AND (to_jsonb(NEW) - 'updated_at' - 'sent_at')
       IS DISTINCT FROM (to_jsonb(OLD) - 'updated_at' - 'sent_at') THEN
    PERFORM lemniscus_refuse(format(
      'Die Rechnung %%s ist storniert und kann nicht mehr geändert werden.', OLD.number));
  END IF;
  RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION billing_invoiceline_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  issued text;
BEGIN
  IF TG_OP = 'DELETE' AND lemniscus_erasure_allowed() THEN
    RETURN OLD;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    SELECT number INTO issued FROM billing_invoice WHERE id = OLD.invoice_id;
    IF issued IS NOT NULL THEN
      PERFORM lemniscus_refuse(format(
        'Die Positionen der gestellten Rechnung %%s können nicht geändert werden (GoBD).',
        issued));
    END IF;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    SELECT number INTO issued FROM billing_invoice WHERE id = NEW.invoice_id;
    IF issued IS NOT NULL THEN
      PERFORM lemniscus_refuse(format(
        'Die gestellte Rechnung %%s bekommt keine neuen Positionen (GoBD).', issued));
    END IF;
    RETURN NEW;
  END IF;
  RETURN OLD;
END $$;

CREATE OR REPLACE FUNCTION lemniscus_append_only_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND lemniscus_erasure_allowed() THEN
    RETURN OLD;
  END IF;
  PERFORM lemniscus_refuse(format(
    '%%s wird nur ergänzt, nie geändert oder gelöscht (GoBD).', TG_TABLE_NAME));
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION billing_sequence_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.last_number > 0 AND NOT lemniscus_erasure_allowed() THEN
      PERFORM lemniscus_refuse('Ein benutzter Nummernkreis wird nicht gelöscht.');
    END IF;
    RETURN OLD;
  END IF;
  IF NEW.last_number < OLD.last_number OR NEW.organisation_id <> OLD.organisation_id
     OR NEW.kind <> OLD.kind OR NEW.year <> OLD.year THEN
    PERFORM lemniscus_refuse('Ein Nummernkreis zählt nur vorwärts; Nummern werden nie neu vergeben.');
  END IF;
  RETURN NEW;
END $$;
""" % {"allowed": ", ".join(f"'{column}'" for column in ALLOWED_COLUMNS)}

TRIGGERS = """
CREATE TRIGGER billing_invoice_guard BEFORE UPDATE OR DELETE ON billing_invoice
  FOR EACH ROW EXECUTE FUNCTION billing_invoice_guard();
CREATE TRIGGER billing_invoiceline_guard BEFORE INSERT OR UPDATE OR DELETE ON billing_invoiceline
  FOR EACH ROW EXECUTE FUNCTION billing_invoiceline_guard();
CREATE TRIGGER billing_invoicedocument_guard BEFORE UPDATE OR DELETE ON billing_invoicedocument
  FOR EACH ROW EXECUTE FUNCTION lemniscus_append_only_guard();
CREATE TRIGGER billing_historicalinvoice_guard BEFORE UPDATE OR DELETE ON billing_historicalinvoice
  FOR EACH ROW EXECUTE FUNCTION lemniscus_append_only_guard();
CREATE TRIGGER billing_historicalinvoiceline_guard BEFORE UPDATE OR DELETE
  ON billing_historicalinvoiceline
  FOR EACH ROW EXECUTE FUNCTION lemniscus_append_only_guard();
CREATE TRIGGER billing_invoicesequence_guard BEFORE UPDATE OR DELETE ON billing_invoicesequence
  FOR EACH ROW EXECUTE FUNCTION billing_sequence_guard();
"""

DROP = """
DROP TRIGGER IF EXISTS billing_invoice_guard ON billing_invoice;
DROP TRIGGER IF EXISTS billing_invoiceline_guard ON billing_invoiceline;
DROP TRIGGER IF EXISTS billing_invoicedocument_guard ON billing_invoicedocument;
DROP TRIGGER IF EXISTS billing_historicalinvoice_guard ON billing_historicalinvoice;
DROP TRIGGER IF EXISTS billing_historicalinvoiceline_guard ON billing_historicalinvoiceline;
DROP TRIGGER IF EXISTS billing_invoicesequence_guard ON billing_invoicesequence;
DROP FUNCTION IF EXISTS billing_invoice_guard();
DROP FUNCTION IF EXISTS billing_invoiceline_guard();
DROP FUNCTION IF EXISTS billing_sequence_guard();
DROP FUNCTION IF EXISTS lemniscus_append_only_guard();
DROP FUNCTION IF EXISTS lemniscus_refuse(text);
DROP FUNCTION IF EXISTS lemniscus_erasure_allowed();
"""


def _run(schema_editor, *scripts: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for script in scripts:
            cursor.execute(script)  # no parameters: the % in the functions stay as they are


def create(apps, schema_editor):
    _run(schema_editor, FUNCTIONS, TRIGGERS)


def drop(apps, schema_editor):
    _run(schema_editor, DROP)


class Migration(migrations.Migration):
    dependencies = [("billing", "0006_tax_category_recipient_line_history_archive")]

    operations = [migrations.RunPython(create, drop)]
