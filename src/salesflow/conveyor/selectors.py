"""Reading what a stage works on: a process's deal and client, who did a stage before,
and handoff notes as people read them.

"Which client -- which deal -- is this process about?" is answered here and only here
(``lead_of``, ``process_client_id``, ``process_client_ids``; in SQL, by the pools' rules):
a deal's process is linked to its lead (``Lead.process``), a process serving a client or
a deal without being one by its ``ProcessSubject`` (started by ``stage.Begin``). Every
part of the engine -- masking, separation of duties, the audit trail -- follows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from viewflow.workflow.models import Process, Task
from viewflow.workflow.status import STATUS

from salesflow.clients.models import Lead, ProcessSubject
from salesflow.people import display_names

from .registry import handoff_templates, human_nodes
from .stage import StageNode

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from salesflow.handoff.models import HandoffNote

# What a stage completes on: its process, lead and order (the client loads when used).
WORK_RELATED = "process__lead__order"
# What the stage page shows.
PAGE_RELATED = ("process__lead__client", "process__lead__order", "owner")


def lead_of(task: Task) -> Lead | None:
    """The deal the task's work is on (None: none)."""
    return process_lead(task.process)


def process_lead(process: Process) -> Lead | None:
    """The process's own deal, or the one it serves (its subject's)."""
    try:
        lead: Lead = process.lead
    except Lead.DoesNotExist:
        subject = process_subject(process)
        return subject.lead if subject is not None else None
    return lead


def process_subject(process: Process) -> ProcessSubject | None:
    try:
        subject: ProcessSubject = process.subject
    except ProcessSubject.DoesNotExist:
        return None
    return subject


def process_client_id(process: Process) -> int | None:
    """The client the process is about (None: none)."""
    try:
        client_id: int = process.lead.client_id
    except Lead.DoesNotExist:
        subject = process_subject(process)
        return subject.client_id if subject is not None else None
    return client_id


def process_client_ids(*, process_ids: Iterable[int]) -> dict[int, int]:
    """``process_client_id`` of many processes in two queries (absent: none)."""
    ids = list(process_ids)
    clients = dict(
        ProcessSubject.objects.filter(process_id__in=ids).values_list("process_id", "client_id")
    )
    clients.update(Lead.objects.filter(process_id__in=ids).values_list("process_id", "client_id"))
    return clients


def last_performer(*, process: Process, node: StageNode) -> User | None:
    """Who completed ``node`` last in this process, if they are still active."""
    owner_id = (
        Task.objects.filter(process=process, flow_task=node, status=STATUS.DONE)
        .order_by("-finished", "-pk")
        .values_list("owner_id", flat=True)
        .first()
    )
    if owner_id is None:
        return None
    user: User | None = (
        get_user_model()._default_manager.filter(pk=owner_id, is_active=True).first()
    )
    return user


def node_was_performed(*, process_id: int, node: StageNode) -> bool:
    done = Task.objects.filter(process_id=process_id, flow_task=node, status=STATUS.DONE)
    performed: bool = done.exists()
    return performed


@dataclass(frozen=True)
class NoteView:
    """A handoff note as a person reads it: labelled fields, stage titles, and who wrote
    and who read it (``salesflow.people``: the same name as everywhere else)."""

    note: HandoffNote
    rows: list[tuple[str, str]]
    from_title: str
    to_title: str
    author_name: str = ""
    reader_name: str = ""


def describe_notes(notes: Iterable[HandoffNote]) -> list[NoteView]:
    """Each note with ``rows`` of (field label, value) in its template's order and the
    titles of the stages it went between."""
    templates, nodes = handoff_templates(), human_nodes()
    notes = list(notes)
    people = {note.author_id: note.author for note in notes}
    for note in notes:
        if note.acknowledged_by is not None:
            people[note.acknowledged_by.pk] = note.acknowledged_by
    names = display_names(people.values())

    def title(ref: str) -> str:
        return str(nodes[ref].task_title) if ref in nodes else ref

    views = []
    for note in notes:
        template = templates.get(note.template)
        labels = {f.name: str(f.label) for f in template.fields} if template else {}
        order = list(labels) + [name for name in note.fields if name not in labels]
        rows = [
            (str(labels.get(name, name)), str(note.fields[name]))
            for name in order
            if name in note.fields
        ]
        views.append(
            NoteView(
                note=note,
                rows=rows,
                from_title=title(note.from_node),
                to_title=title(note.to_node),
                author_name=names.get(note.author_id, ""),
                reader_name=names.get(note.acknowledged_by_id, "")
                if note.acknowledged_by_id is not None
                else "",
            )
        )
    return views
