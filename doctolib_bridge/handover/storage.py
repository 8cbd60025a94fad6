"""Where a job's files live: each run writes temporary files
(`exports/tmp/<job>-<attempt>-<name>`), the final transaction moves them to
`exports/<organisation>/<job>/<name>`. Never served directly (docs/decisions.md)."""

import shutil
from pathlib import Path

from doctolib_bridge.models import ExportJob


def file_storage():
    return ExportJob._meta.get_field("patients_file").storage


def final_name(job: ExportJob, name: str) -> str:
    return f"exports/{job.organisation.public_id}/{job.public_id}/{name}"


def temp_path(job: ExportJob, name: str) -> Path:
    """This run's temporary file (`job` as claimed by the run)."""
    path = Path(file_storage().path(f"exports/tmp/{job.public_id}-{job.attempts}-{name}"))
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def discard(job: ExportJob) -> None:
    """This run's temporary files, whatever it got to write."""
    for name in ("patients.csv", "appointments.csv"):
        temp_path(job, name).unlink(missing_ok=True)


def remove_files(job: ExportJob) -> None:
    """Every file of the job: temporary ones of any run and the final folder."""
    temp = Path(file_storage().path("exports/tmp"))
    for stale in temp.glob(f"{job.public_id}-*"):
        stale.unlink(missing_ok=True)
    shutil.rmtree(Path(file_storage().path(final_name(job, ""))), ignore_errors=True)
