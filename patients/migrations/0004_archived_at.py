"""Archived records (read-only, left out of lists; erased after their retention)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('patients', '0003_invoice_recipient'),
    ]

    operations = [
        migrations.AddField(
            model_name='historicalpatient',
            name='archived_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='Archiviert am'),
        ),
        migrations.AddField(
            model_name='patient',
            name='archived_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='Archiviert am'),
        ),
    ]
