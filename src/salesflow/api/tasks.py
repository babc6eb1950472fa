"""Background jobs of the API: thin Celery wrappers over its services."""

from celery import shared_task

from .services import idempotency_keys_expire


@shared_task(acks_late=True)
def expire_idempotency_keys() -> int:
    """Forget old Idempotency-Keys (idempotent: deleting what is gone is a no-op)."""
    return idempotency_keys_expire()
