"""The initial handover to Doctolib (operations.md, "Initial handover to Doctolib").

An organisation admin starts an export job (`services.export_start`); a worker writes
`patients.csv` and `appointments.csv` (`job.export_run`) and, for "Export erstellen
und Termine löschen", removes exactly the exported appointments in the same step;
support can undo the removal within 7 days (`services.export_undo`). Every entry
point (staff API, staff page, Celery task, Django admin) calls these functions.

- `selectors`: what is read (the jobs, the appointments to hand over).
- `services`: the job's state changes, starting, failing, the downloads, the undo.
- `job`: the run a worker does (`export_run`, behind the task `doctolib_bridge.export_run`).
- `csv_files`: the two files' columns, formatted by the database and streamed by COPY
  (PostgreSQL) or written by the csv module (SQLite), byte for byte the same; the
  removal's fingerprints, computed and stored by the database.
- `removal`: taking the exported appointments out and putting them back, with their
  history rows in one statement (raw SQL).
- `storage`: where a job's temporary and final files live.

Arrows point one way: `job` → `services` → `removal` → `csv_files` → `storage`,
`selectors`; nothing here imports the tasks (services queue them by name through the
outbox).
"""
