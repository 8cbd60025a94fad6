"""The practice's default for new records' consent to e-mail reminders."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('organisations', '0004_vat_id_no_show_fee'),
    ]

    operations = [
        migrations.AddField(
            model_name='organisation',
            name='reminder_consent_default',
            field=models.BooleanField(default=False, verbose_name='Neue Akten: E-Mail-Erinnerungen'),
        ),
    ]
