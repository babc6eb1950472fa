"""Writing the audit trail. Call these inside the transaction of the action they record,
so an action and its event are committed together or not at all."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone
from viewflow.workflow.models import Task

from salesflow.rows import insert_row

from .models import AuditEvent


def audit_record(
    *,
    action: str,
    actor: User | None,
    task: Task | None = None,
    process_id: int | None = None,
    client_id: int | None = None,
    from_user: User | None = None,
    to_user: User | None = None,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    """Append one event. ``process_id`` defaults to the task's process.

    A plain INSERT (``salesflow.rows``): it runs on every claim, hand-out and completion,
    and nothing reads the row back here (the table is append-only)."""
    insert_row(
        AuditEvent,
        {
            "created": timezone.now(),
            "actor": actor.pk if actor is not None else None,
            "action": str(action),
            "task": task.pk if task is not None else None,
            "process": process_id if process_id is not None else getattr(task, "process_id", None),
            "client": client_id,
            "from_user": from_user.pk if from_user is not None else None,
            "to_user": to_user.pk if to_user is not None else None,
            "reason": str(reason),
            "data": data or {},
        },
    )
