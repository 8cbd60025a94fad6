"""Consent to e-mail reminders per record. Records that exist already were reminded
until now; they keep being reminded (consent True), so that nobody who relies on the
reminders loses them silently. New records take the practice's default."""

from django.db import migrations, models


def keep_existing_reminders(apps, schema_editor):
    apps.get_model("patients", "Patient").objects.update(reminder_consent=True)


class Migration(migrations.Migration):

    dependencies = [
        ('patients', '0005_periodic_erasure'),
    ]

    operations = [
        migrations.AddField(
            model_name='historicalpatient',
            name='reminder_consent',
            field=models.BooleanField(default=False, verbose_name='E-Mail-Erinnerungen'),
        ),
        migrations.AddField(
            model_name='patient',
            name='reminder_consent',
            field=models.BooleanField(default=False, verbose_name='E-Mail-Erinnerungen'),
        ),
        migrations.RunPython(keep_existing_reminders, migrations.RunPython.noop),
    ]
