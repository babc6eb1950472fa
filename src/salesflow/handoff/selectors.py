"""Reading handoff notes for the stage page."""

from __future__ import annotations

from django.db.models import IntegerField, QuerySet
from django.db.models.expressions import RawSQL

from salesflow.sqlnames import columns, table

from .models import HandoffNote


def incoming_notes(*, process_id: int, node_ref: str) -> QuerySet[HandoffNote]:
    """Notes addressed to this stage of this process, newest first (the unread one on top)."""
    return (
        HandoffNote.objects.filter(process_id=process_id, to_node=node_ref)
        .select_related("author", "acknowledged_by")
        .order_by("acknowledged", "-created")
    )


def pending_note_expressions(*, process_id: int, node_ref: str) -> dict[str, RawSQL]:
    """Annotations ``pending_note_id`` and ``pending_note_author_id``: the newest note to
    this stage nobody has acknowledged yet, read with the task in the same query (the
    completion reads it on every stage; see docs/benchmarks.md)."""
    note_id, process, to_node, acknowledged_by, created, author = columns(
        HandoffNote, "id", "process", "to_node", "acknowledged_by", "created", "author"
    )
    where = (
        f"FROM {table(HandoffNote)} n WHERE n.{process} = %s AND n.{to_node} = %s"
        f" AND n.{acknowledged_by} IS NULL ORDER BY n.{created} DESC LIMIT 1"
    )
    params = [process_id, node_ref]
    return {
        "pending_note_id": RawSQL(
            f"(SELECT n.{note_id} {where})", params, output_field=IntegerField()
        ),
        "pending_note_author_id": RawSQL(
            f"(SELECT n.{author} {where})", params, output_field=IntegerField()
        ),
    }


def client_history(*, client_id: int, limit: int = 50) -> QuerySet[HandoffNote]:
    """The client's whole handoff history across processes, newest first."""
    return (
        HandoffNote.objects.filter(client_id=client_id)
        .select_related("author", "acknowledged_by")
        .order_by("-created")[:limit]
    )
