"""Every minute: export jobs whose worker died (no heartbeat for two minutes) are
failed and their files removed (doctolib_bridge.fail_dead_jobs). In django-celery-beat's
tables, so that support can change it in the admin."""

from django.db import migrations

NAME, TASK = "Abgebrochene Hintergrundjobs beenden", "doctolib_bridge.fail_dead_jobs"


def create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    PeriodicTask.objects.get_or_create(
        name=NAME, defaults={"task": TASK, "interval": every_minute}
    )


def remove(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("doctolib_bridge", "0007_export_heartbeat"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
