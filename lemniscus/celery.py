import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lemniscus.settings")

# DjangoTask adds `delay_on_commit()`: tasks are queued only once the transaction
# that asked for them has committed.
app = Celery("lemniscus", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
