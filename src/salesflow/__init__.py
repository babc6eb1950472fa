"""salesflow: a functional-split sales conveyor on Django and django-viewflow."""

# Make sure the Celery app is loaded whenever Django starts, so that @shared_task
# tasks bind to it (the pattern from Celery's Django guide).
from .celery import app as celery_app

__all__ = ("celery_app",)
