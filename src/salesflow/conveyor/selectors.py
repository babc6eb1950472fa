"""Reading tasks for the stage services and pages."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import BooleanField, CharField, IntegerField
from django.db.models.expressions import RawSQL
from viewflow.workflow.fields import get_task_ref
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

if TYPE_CHECKING:
    from collections.abc import Iterable

    from django.contrib.auth.models import User
    from viewflow.workflow.models import Process

    from salesflow.handoff.models import HandoffNote

# What a stage completes on: its process, lead and order (the client loads when used).
WORK_RELATED = ("process__lead__order",)
# What the stage page shows.
PAGE_RELATED = ("process__lead__client", "process__lead__order", "owner")


def task_for_update(
    *,
    task_id: int,
    related: tuple[str, ...] = ("process",),
    annotations: dict[str, Any] | None = None,
) -> Task:
    """The task, with its process row locked by the same query (call inside a transaction);
    ``related`` (paths through ``process``) and ``annotations`` are read with it.
    DoesNotExist if there is no such task."""
    queryset = Task.objects.select_related(*related).select_for_update(of=("process",))
    if annotations:
        queryset = queryset.annotate(**annotations)
    return queryset.get(pk=task_id)


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
class SeparationFacts:
    """What the separation-of-duties rules need to know about a user and a task."""

    client_id: int | None
    barred_by: str | None  # task reference of a node the user performed that bars them
    wrote_pending_note: bool  # they wrote the note waiting for this stage

    @classmethod
    def of(cls, task: Task) -> SeparationFacts:
        """Read from a task annotated with ``separation_expressions``."""
        return cls(
            client_id=task.sod_client_id,
            barred_by=task.sod_barred_by,
            wrote_pending_note=bool(task.sod_wrote_pending_note),
        )


@cache
def _separation_sql(node_ref: str) -> tuple[tuple[str, str, str], tuple[tuple[str, ...], ...]]:
    """SQL fragments answering SeparationFacts for one stage, and the rules' node refs.

    Hand-written because they run on every claim, for every candidate of claim-next and
    for every assign button: as ORM subqueries they cost ~2.5 ms of Python per call to
    build, against ~0.3 ms to run (see docs/benchmarks.md). The rules are the ones
    declared with the roles that perform the stage; the text is built once per stage.
    """
    from salesflow.clients.models import Lead
    from salesflow.handoff.models import HandoffNote
    from salesflow.roles import roles_for_node

    from .registry import human_nodes

    quote = connection.ops.quote_name
    task, lead, note = (quote(m._meta.db_table) for m in (Task, Lead, HandoffNote))
    nodes = human_nodes()
    clauses, rules = [], []
    for role in roles_for_node(node_ref):
        for rule in role.separation_of_duties:
            refs = tuple(get_task_ref(nodes[ref]) for ref in rule.not_after)
            marks = ", ".join(["%s"] * len(refs))
            if rule.scope == "process":
                clauses.append(f"(d.flow_task IN ({marks}) AND d.process_id = %s)")
            else:
                clauses.append(
                    f"(d.flow_task IN ({marks}) AND d.process_id IN (SELECT l3.process_id"
                    f" FROM {lead} l3 WHERE l3.client_id = (SELECT l4.client_id FROM {lead} l4"
                    " WHERE l4.process_id = %s)))"
                )
            rules.append(refs)
    client = f"(SELECT l.client_id FROM {lead} l WHERE l.process_id = %s)"
    wrote = (
        f"EXISTS (SELECT 1 FROM {note} n WHERE n.process_id = %s AND n.to_node = %s"
        " AND n.acknowledged_by_id IS NULL AND n.author_id = %s)"
    )
    barred = (
        f"(SELECT d.flow_task FROM {task} d WHERE d.owner_id = %s AND d.status = 'DONE'"
        f" AND ({' OR '.join(clauses)}) LIMIT 1)"
        if clauses
        else "(SELECT NULL WHERE %s IS NULL)"
    )
    return (client, wrote, barred), tuple(rules)


def separation_expressions(*, process_id: int, node_ref: str, user_id: int) -> dict[str, Any]:
    """Annotations (``sod_*``) answering SeparationFacts, to read with a task."""
    (client, wrote, barred), rules = _separation_sql(node_ref)
    barred_params: list[Any] = [user_id]
    for refs in rules:
        barred_params.extend(refs)
        barred_params.append(process_id)
    return {
        "sod_client_id": RawSQL(client, [process_id], output_field=IntegerField()),
        "sod_wrote_pending_note": RawSQL(
            wrote, [process_id, node_ref, user_id], output_field=BooleanField()
        ),
        "sod_barred_by": RawSQL(barred, barred_params, output_field=CharField()),
    }


def separation_facts(
    *, task_id: int, process_id: int, node_ref: str, user_id: int
) -> SeparationFacts:
    """SeparationFacts in one query, for a task read without them."""
    expressions = separation_expressions(process_id=process_id, node_ref=node_ref, user_id=user_id)
    row = Task.objects.filter(pk=task_id).annotate(**expressions).values(*expressions).get()
    return SeparationFacts(
        client_id=row["sod_client_id"],
        barred_by=row["sod_barred_by"],
        wrote_pending_note=bool(row["sod_wrote_pending_note"]),
    )


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
