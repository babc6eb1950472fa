"""Reading handoff notes for the stage page."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import HandoffNote


def incoming_notes(*, process_id: int, node_ref: str) -> QuerySet[HandoffNote]:
    """Notes addressed to this stage of this process, newest first (the unread one on top)."""
    return (
        HandoffNote.objects.filter(process_id=process_id, to_node=node_ref)
        .select_related("author", "acknowledged_by")
        .order_by("acknowledged", "-created")
    )


def pending_note(*, process_id: int, node_ref: str) -> HandoffNote | None:
    """The newest note to this stage nobody has acknowledged yet."""
    return (
        HandoffNote.objects.filter(
            process_id=process_id, to_node=node_ref, acknowledged_by__isnull=True
        )
        .order_by("-created")
        .first()
    )


def client_history(*, client_id: int, limit: int = 50) -> QuerySet[HandoffNote]:
    """The client's whole handoff history across processes, newest first."""
    return (
        HandoffNote.objects.filter(client_id=client_id)
        .select_related("author", "acknowledged_by")
        .order_by("-created")[:limit]
    )
