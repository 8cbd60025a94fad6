#!/usr/bin/env bash
# Measures `manage.py seed_demo --patients N` (default 100000) on a fresh PostgreSQL
# database; the target is under two minutes for 100,000 patients.
# Usage: bench/seed_demo.sh [N]   (DATABASE_URL must name a database with "bench"
# in its name: it is dropped and created anew.)
set -euo pipefail
cd "$(dirname "$0")/.."
PATIENTS=${1:-100000}
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/lemniscus_bench}
export SECRET_KEY=${SECRET_KEY:-bench-only-secret-key}
export LOG_LEVEL=${LOG_LEVEL:-WARNING}
DB_NAME=${DATABASE_URL##*/}
case "$DB_NAME" in
  *bench*) ;;
  *) echo "refusing to drop $DB_NAME: use a database with 'bench' in its name" >&2; exit 1 ;;
esac
psql "${DATABASE_URL%/*}/postgres" -qX -c "DROP DATABASE IF EXISTS \"$DB_NAME\"" \
  -c "CREATE DATABASE \"$DB_NAME\""
.venv/bin/python manage.py migrate --noinput -v0
echo "seed_demo --patients $PATIENTS:"
time .venv/bin/python manage.py seed_demo --patients "$PATIENTS"
psql "$DATABASE_URL" -qXA -F ' ' -c "
  SELECT 'patients', count(*) FROM patients_patient
  UNION ALL SELECT 'patient history rows', count(*) FROM patients_historicalpatient
  UNION ALL SELECT 'appointments', count(*) FROM appointments_appointment
  UNION ALL SELECT 'appointment history rows', count(*) FROM appointments_historicalappointment
  UNION ALL SELECT 'invoices', count(*) FROM billing_invoice"
