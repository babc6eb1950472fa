"""Background jobs of the conveyor: thin Celery wrappers over the engine."""

from celery import shared_task
from viewflow.workflow.timers import fire_due_timers as viewflow_fire_due_timers


@shared_task(acks_late=True)
def fire_due_timers() -> int:
    """Fire every due timer (a nurtured lead whose date has come). Safe to run twice:
    viewflow re-checks each timer under its process lock."""
    fired: int = viewflow_fire_due_timers()
    return fired
