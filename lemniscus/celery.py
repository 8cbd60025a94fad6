import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lemniscus.settings")

app = Celery("lemniscus")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
