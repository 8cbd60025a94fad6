"""Background jobs of the staff users. Thin: they take ids and call
organisations.invitations."""

from smtplib import SMTPException

from celery import shared_task

from organisations import invitations

# Delivery errors worth another try; anything else is a bug and is not retried.
TRANSIENT = (SMTPException, ConnectionError, TimeoutError)


@shared_task(
    name="organisations.send_invitation",
    time_limit=90,
    soft_time_limit=60,
    autoretry_for=TRANSIENT,
    retry_backoff=30,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=5,
)
def send_invitation_task(user_id: int) -> bool:
    """Queued through the outbox when a member is invited or invited again."""
    return invitations.send_invitation(user_id=user_id)
