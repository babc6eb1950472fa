"""Writing the audit trail. Call these inside the transaction of the action they record,
so an action and its event are committed together or not at all."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from viewflow.workflow.models import Task

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
) -> AuditEvent:
    """Append one event. ``process_id`` defaults to the task's process.

    ``bulk_create`` of one row: the same INSERT as ``create()`` without ``save()``'s
    machinery, on every claim and completion."""
    (event,) = AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                action=action,
                actor=actor,
                task=task,
                process_id=process_id
                if process_id is not None
                else getattr(task, "process_id", None),
                client_id=client_id,
                from_user=from_user,
                to_user=to_user,
                reason=reason,
                data=data or {},
            )
        ]
    )
    return event
