"""Writing the audit trail. Call these inside the transaction of the action they record,
so an action and its event are committed together or not at all. Every audit event of
the engine is written here (the table is append-only: see ``models``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from .models import AuditEvent

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from viewflow.workflow.models import Task


def audit_record(
    *,
    action: str,
    actor: AbstractBaseUser | None,
    task: Task | None = None,
    process_id: int | None = None,
    client_id: int | None = None,
    from_user: AbstractBaseUser | None = None,
    to_user: AbstractBaseUser | None = None,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event. ``process_id`` defaults to the task's process."""
    return AuditEvent.objects.create(
        action=str(action),
        actor_id=actor.pk if actor is not None else None,
        task_id=task.pk if task is not None else None,
        process_id=process_id if process_id is not None else getattr(task, "process_id", None),
        client_id=client_id,
        from_user_id=from_user.pk if from_user is not None else None,
        to_user_id=to_user.pk if to_user is not None else None,
        reason=str(reason),
        data=data or {},
    )


@dataclass(frozen=True)
class AuditEntry:
    """One event of a batch (``audit_record_many``), by ids: a batch job has rows, not
    objects."""

    action: str
    created: datetime | None = None
    actor_id: int | None = None
    task_id: int | None = None
    process_id: int | None = None
    client_id: int | None = None
    from_user_id: int | None = None
    to_user_id: int | None = None
    reason: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def audit_record_many(entries: Iterable[AuditEntry]) -> int:
    """Append many events in one INSERT (a periodic job marking a thousand tasks); returns
    how many."""
    now = timezone.now()
    events = [
        AuditEvent(
            created=entry.created or now,
            action=str(entry.action),
            actor_id=entry.actor_id,
            task_id=entry.task_id,
            process_id=entry.process_id,
            client_id=entry.client_id,
            from_user_id=entry.from_user_id,
            to_user_id=entry.to_user_id,
            reason=str(entry.reason),
            data=entry.data,
        )
        for entry in entries
    ]
    AuditEvent.objects.bulk_create(events)
    return len(events)
