"""Steuernummer and USt-IdNr. as two fields (each printed under its own label), and
the no-show fee. A USt-IdNr. (DE and nine digits) that stood in the one field
"Steuernummer / USt-IdNr." moves to `vat_id`."""

import re

from django.db import migrations, models


def move_vat_ids(apps, schema_editor):
    Organisation = apps.get_model("organisations", "Organisation")
    for organisation in Organisation.objects.filter(tax_number__istartswith="DE"):
        compact = "".join(organisation.tax_number.split()).upper()
        if re.fullmatch(r"DE\d{9}", compact):
            organisation.vat_id, organisation.tax_number = compact, ""
            organisation.save(update_fields=["vat_id", "tax_number"])


class Migration(migrations.Migration):

    dependencies = [
        ('organisations', '0003_handover_at'),
    ]

    operations = [
        migrations.AddField(
            model_name='organisation',
            name='no_show_fee',
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=10, null=True, verbose_name='Ausfallhonorar (€)'),
        ),
        migrations.AddField(
            model_name='organisation',
            name='no_show_fee_name',
            field=models.CharField(default='Ausfallhonorar', max_length=100, verbose_name='Bezeichnung des Ausfallhonorars'),
        ),
        migrations.AddField(
            model_name='organisation',
            name='vat_id',
            field=models.CharField(blank=True, max_length=11, verbose_name='USt-IdNr.'),
        ),
        migrations.AlterField(
            model_name='organisation',
            name='tax_number',
            field=models.CharField(blank=True, max_length=32, verbose_name='Steuernummer'),
        ),
        migrations.RunPython(move_vat_ids, migrations.RunPython.noop),
    ]
