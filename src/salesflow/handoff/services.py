"""Writing, acknowledging and bouncing handoff notes.

The caller holds the process lock (the stage services do): a note is written in the same
transaction as the completion it belongs to.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task

from salesflow.exceptions import HandoffIncomplete, NotPermitted

from .models import HandoffNote
from .templates import HandoffTemplate


def handoff_validate(
    *, template: HandoffTemplate, fields: Mapping[str, Any] | None
) -> dict[str, str]:
    """The note's clean fields, or HandoffIncomplete naming each field that falls short."""
    clean, errors = template.validate(fields or {})
    if errors:
        raise HandoffIncomplete(
            _("The handoff note for “%(title)s” is incomplete: the next person needs more.")
            % {"title": template.title},
            errors=errors,
        )
    return clean


def handoff_create(
    *,
    task: Task,
    author: User,
    template: HandoffTemplate,
    from_node: str,
    to_node: str,
    client_id: int,
    fields: dict[str, str],
    text: str = "",
    kind: str = HandoffNote.Kind.HANDOFF,
) -> HandoffNote:
    """Store an already validated note (see ``handoff_validate``)."""
    return HandoffNote.objects.create(
        kind=kind,
        process_id=task.process_id,
        client_id=client_id,
        from_task=task,
        from_node=from_node,
        to_node=to_node,
        template=template.code,
        author=author,
        fields=fields,
        text=text.strip(),
    )


def handoff_acknowledge(*, note_id: int, author_id: int, user: User) -> None:
    """The receiver confirms they read the note: who and when are kept on the note, once.
    Its author may not (separation of duties; the database refuses it too)."""
    if author_id == user.pk:
        raise NotPermitted(
            _("You wrote this handoff note; a colleague on the receiving stage must read it.")
        )
    HandoffNote.objects.filter(pk=note_id, acknowledged_by__isnull=True).update(
        acknowledged_by=user, acknowledged=timezone.now()
    )
