"""Background jobs of the appointment notifications. Thin: they take ids and call
appointments.notifications, which makes each e-mail go out once."""

from smtplib import SMTPException

from celery import shared_task

from appointments import notifications

# Delivery errors worth another try; anything else is a bug and is not retried.
TRANSIENT = (SMTPException, ConnectionError, TimeoutError)
RETRY = {
    "autoretry_for": TRANSIENT,
    "retry_backoff": 30,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(name="appointments.send_confirmation", time_limit=90, soft_time_limit=60, **RETRY)
def send_confirmation_task(appointment_id: int) -> bool:
    """Queued (after commit) when staff create an appointment."""
    return notifications.send_confirmation(appointment_id=appointment_id)


@shared_task(name="appointments.send_due_reminders", time_limit=300, soft_time_limit=240, **RETRY)
def send_due_reminders_task() -> int:
    """Periodic (Celery beat, every 5 minutes by default)."""
    return notifications.send_due_reminders()
