# One image for the web app (gunicorn), the Celery worker and Celery beat
# (docker-compose.yml picks the command).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

# WeasyPrint (invoice PDFs) needs Pango, HarfBuzz's subsetter and a font.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# The pinned dependencies first, so a code change does not reinstall them. The
# project itself runs from /app (pyproject.toml installs no packages).
COPY pyproject.toml ./
RUN pip install .

COPY . .
# Settings refuse the development key with DEBUG off; this one only collects files.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput \
    && useradd --system --uid 1000 --home-dir /app lemniscus \
    && mkdir -p /app/media \
    && chown lemniscus /app/media

USER lemniscus
EXPOSE 8000
CMD ["gunicorn", "lemniscus.wsgi", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
