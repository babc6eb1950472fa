"""Celery jobs of the company's flows: thin wrappers over their services."""

from __future__ import annotations

from celery import shared_task

from .dataquality_work import data_quality_scan as scan


@shared_task(name="flows.tasks.data_quality_scan", acks_late=True)
def data_quality_scan() -> dict[str, int]:
    """The database operator's rules, run periodically (idempotent: one open task per
    problem)."""
    return scan()
