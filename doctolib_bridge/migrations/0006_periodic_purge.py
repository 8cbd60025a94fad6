"""The daily purge of what the bridge keeps only for a while (sync log 90 days,
Idempotency-Key answers 24 h, transfers 7 days), scheduled in django-celery-beat's
tables so that support can change it in the admin ("Periodic tasks")."""

from django.db import migrations

NAME, TASK = "Aufbewahrungsfristen Doctolib-Brücke", "doctolib_bridge.purge_expired"


def create(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    nightly, _ = CrontabSchedule.objects.get_or_create(
        minute="30",
        hour="3",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone="Europe/Berlin",
    )
    PeriodicTask.objects.get_or_create(name=NAME, defaults={"task": TASK, "crontab": nightly})


def remove(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("doctolib_bridge", "0005_export_jobs"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
