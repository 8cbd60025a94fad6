"""Background jobs of billing. Thin: they take ids and call the services, which
make each e-mail go out once (billing.sending)."""

from smtplib import SMTPException

from celery import shared_task

from billing import sending

# Delivery errors worth another try; anything else is a bug and is not retried.
TRANSIENT = (SMTPException, ConnectionError, TimeoutError)
RETRY = {
    "autoretry_for": TRANSIENT,
    "retry_backoff": 30,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(name=sending.TASK, time_limit=120, soft_time_limit=90, **RETRY)
def send_invoice_task(invoice_id: int, requested_at: str) -> bool:
    """Queued through the outbox by `POST /invoices/{id}/send` and the page."""
    return sending.invoice_send(invoice_id=invoice_id, requested_at=requested_at)
