"""The invoice recipient a patient's invoices go to by default (a parent, a carer)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('patients', '0002_suggestion_index'),
    ]

    operations = [
        migrations.AddField(
            model_name='historicalpatient',
            name='invoice_recipient',
            field=models.JSONField(blank=True, null=True, verbose_name='Rechnungsempfänger'),
        ),
        migrations.AddField(
            model_name='patient',
            name='invoice_recipient',
            field=models.JSONField(blank=True, null=True, verbose_name='Rechnungsempfänger'),
        ),
    ]
