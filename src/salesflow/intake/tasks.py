"""Background jobs of the intake: thin Celery wrappers over its services."""

from celery import shared_task

from .services import reactivation_run


# the name it had when it lived with the client base: installations' beat schedules use it
@shared_task(
    name="salesflow.clients.tasks.reactivate_lapsed_clients",
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=60,
    max_retries=3,
)
def reactivate_lapsed_clients() -> int:
    """Open a reactivation deal in the account pool for each lapsed client (once per
    client per reorder cycle: safe to retry or to run twice). Returns how many opened."""
    return len(reactivation_run())
