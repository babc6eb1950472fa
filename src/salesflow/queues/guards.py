"""People are deactivated, never deleted, while they hold work.

viewflow's ``Task.owner`` cascades on delete: deleting a user would silently delete every
task they ever held -- open deals included -- and the history with them. The audit trail's
protected foreign keys already stop the deletion of anyone who was ever assigned through
the engine; this guard stops the rest (tasks given outside the engine, by a script or
viewflow's own views), whoever deletes: the admin, a shell, a migration.
"""

from __future__ import annotations

from typing import Any

from django.db.models import ProtectedError
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task

from salesflow.people import display_name


def refuse_deleting_people_with_work(sender: Any, instance: Any, **kwargs: Any) -> None:
    """pre_delete of the user model: ProtectedError if the user owns any task."""
    tasks = Task.objects.filter(owner_id=instance.pk)
    if tasks.exists():
        raise ProtectedError(
            _(
                "%(user)s holds tasks and cannot be deleted (their work would be deleted "
                "with them): deactivate them instead -- offboarding moves their open work."
            )
            % {"user": display_name(instance)},
            set(tasks[:10]),
        )
