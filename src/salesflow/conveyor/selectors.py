"""Reading tasks for the stage services and pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

if TYPE_CHECKING:
    from collections.abc import Iterable

    from django.contrib.auth.models import User
    from viewflow.workflow.models import Process

    from salesflow.clients.models import Lead
    from salesflow.handoff.models import HandoffNote

# What a stage completes on: its process, lead and order (the client loads when used).
WORK_RELATED = "process__lead__order"
# What the stage page shows.
PAGE_RELATED = ("process__lead__client", "process__lead__order", "owner")


def lead_of(task: Task) -> Lead | None:
    """The deal's lead (None for a process the intake did not start)."""
    from salesflow.clients.models import Lead

    try:
        return task.process.lead
    except Lead.DoesNotExist:
        return None


def last_performer(*, process: Process, node) -> User | None:
    """Who completed ``node`` last in this process, if they are still active."""
    owner_id = (
        Task.objects.filter(process=process, flow_task=node, status=STATUS.DONE)
        .order_by("-finished", "-pk")
        .values_list("owner_id", flat=True)
        .first()
    )
    if owner_id is None:
        return None
    return get_user_model()._default_manager.filter(pk=owner_id, is_active=True).first()


def node_was_performed(*, process_id: int, node) -> bool:
    return Task.objects.filter(process_id=process_id, flow_task=node, status=STATUS.DONE).exists()


@dataclass(frozen=True)
class NoteView:
    """A handoff note as a person reads it: labelled fields, stage titles."""

    note: HandoffNote
    rows: list[tuple[str, str]]
    from_title: str
    to_title: str


def describe_notes(notes: Iterable[HandoffNote]) -> list[NoteView]:
    """Each note with ``rows`` of (field label, value) in its template's order and the
    titles of the stages it went between."""
    from .registry import handoff_templates, human_nodes

    templates, nodes = handoff_templates(), human_nodes()

    def title(ref: str) -> str:
        return str(nodes[ref].task_title) if ref in nodes else ref

    views = []
    for note in notes:
        template = templates.get(note.template)
        labels = {f.name: str(f.label) for f in template.fields} if template else {}
        order = list(labels) + [name for name in note.fields if name not in labels]
        rows = [
            (labels.get(name, name), note.fields[name]) for name in order if name in note.fields
        ]
        views.append(
            NoteView(
                note=note, rows=rows, from_title=title(note.from_node), to_title=title(note.to_node)
            )
        )
    return views
