"""Tax categories of services and invoice lines (existing ones follow their rate:
0.00 exempt therapy, anything else taxable), a public id, the therapist and history
for invoice lines, the invoice recipient, and the archive of issued PDFs."""

import billing.models
import django.db.models.deletion
import simple_history.models
import uuid
from decimal import Decimal
from django.conf import settings
from django.db import migrations, models


def categories_from_rates(apps, schema_editor):
    for name in ("ServiceLine", "InvoiceLine"):
        model = apps.get_model("billing", name)
        model.objects.filter(vat_rate=0).update(tax_category="exempt_therapy")
        model.objects.exclude(vat_rate=0).update(tax_category="taxable")


def line_public_ids(apps, schema_editor):
    InvoiceLine = apps.get_model("billing", "InvoiceLine")
    lines = list(InvoiceLine.objects.only("pk"))
    for line in lines:
        line.public_id = uuid.uuid4()
    InvoiceLine.objects.bulk_update(lines, ["public_id"], batch_size=2000)


class Migration(migrations.Migration):

    dependencies = [
        ('appointments', '0005_periodic_reminders'),
        ('billing', '0005_invoice_cancellation_number'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='HistoricalInvoiceLine',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('public_id', models.UUIDField(db_index=True, default=uuid.uuid4, editable=False)),
                ('position', models.PositiveSmallIntegerField(default=0)),
                ('service_date', models.DateField()),
                ('code', models.CharField(blank=True, max_length=32)),
                ('name', models.CharField(max_length=200)),
                ('quantity', models.DecimalField(decimal_places=2, default=Decimal('1'), max_digits=7)),
                ('unit_price', models.DecimalField(decimal_places=2, max_digits=10)),
                ('vat_rate', models.DecimalField(decimal_places=2, max_digits=5)),
                ('tax_category', models.CharField(choices=[('exempt_therapy', 'steuerfrei (Heilbehandlung, § 4 Nr. 14 a UStG)'), ('taxable', 'steuerpflichtig'), ('not_taxable', 'nicht steuerbar (z. B. Ausfallhonorar)')], max_length=16)),
                ('amount', models.DecimalField(decimal_places=2, max_digits=10)),
                ('therapist', models.CharField(blank=True, max_length=200, null=True, verbose_name='Therapeut/in')),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_change_reason', models.CharField(max_length=100, null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
            ],
            options={
                'verbose_name': 'historical Rechnungsposition',
                'verbose_name_plural': 'historical Rechnungspositionen',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name='InvoiceDocument',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('invoice', 'Rechnung'), ('cancellation', 'Stornorechnung')], max_length=12, verbose_name='Art')),
                ('file', models.FileField(max_length=255, upload_to=billing.models._document_path)),
                ('sha256', models.CharField(max_length=64)),
                ('size', models.PositiveIntegerField()),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'verbose_name': 'Archiviertes Dokument',
                'verbose_name_plural': 'Archivierte Dokumente',
            },
        ),
        migrations.AddField(
            model_name='historicalinvoice',
            name='recipient',
            field=models.JSONField(blank=True, null=True, verbose_name='Rechnungsempfänger'),
        ),
        migrations.AddField(
            model_name='invoice',
            name='recipient',
            field=models.JSONField(blank=True, null=True, verbose_name='Rechnungsempfänger'),
        ),
        migrations.AddField(
            model_name='invoiceline',
            name='public_id',
            field=models.UUIDField(null=True, editable=False),
        ),
        migrations.RunPython(line_public_ids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='invoiceline',
            name='public_id',
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.AddField(
            model_name='invoiceline',
            name='tax_category',
            field=models.CharField(choices=[('exempt_therapy', 'steuerfrei (Heilbehandlung, § 4 Nr. 14 a UStG)'), ('taxable', 'steuerpflichtig'), ('not_taxable', 'nicht steuerbar (z. B. Ausfallhonorar)')], default='exempt_therapy', max_length=16),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='invoiceline',
            name='therapist',
            field=models.CharField(blank=True, max_length=200, null=True, verbose_name='Therapeut/in'),
        ),
        migrations.AddField(
            model_name='serviceline',
            name='tax_category',
            field=models.CharField(choices=[('exempt_therapy', 'steuerfrei (Heilbehandlung, § 4 Nr. 14 a UStG)'), ('taxable', 'steuerpflichtig'), ('not_taxable', 'nicht steuerbar (z. B. Ausfallhonorar)')], default='exempt_therapy', max_length=16, verbose_name='Steuerart'),
        ),
        migrations.RunPython(categories_from_rates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='invoiceline',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('tax_category__in', ['exempt_therapy', 'not_taxable']), ('vat_rate', 0)), ('tax_category', 'taxable'), _connector='OR'), name='line_tax_fits_rate'),
        ),
        migrations.AddConstraint(
            model_name='serviceline',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('tax_category__in', ['exempt_therapy', 'not_taxable']), ('vat_rate', 0)), models.Q(('tax_category', 'taxable'), ('vat_rate__gt', 0)), _connector='OR'), name='service_tax_fits_rate'),
        ),
        migrations.AddField(
            model_name='historicalinvoiceline',
            name='appointment',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='appointments.appointment'),
        ),
        migrations.AddField(
            model_name='historicalinvoiceline',
            name='history_user',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='historicalinvoiceline',
            name='invoice',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='billing.invoice'),
        ),
        migrations.AddField(
            model_name='invoicedocument',
            name='invoice',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='documents', to='billing.invoice'),
        ),
        migrations.AddConstraint(
            model_name='invoicedocument',
            constraint=models.UniqueConstraint(fields=('invoice', 'kind'), name='one_document_per_kind'),
        ),
    ]
