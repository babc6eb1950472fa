"""Side tasks: handing non-selling work over from a stage, and what comes back.

* ``side_task_request`` -- the holder of a stage hands a piece of work (a kind the role
  files declare, with a brief) to the pool of the role declaring that kind; the stage
  either waits for it (``conveyor.services.stage_hold``: the engine refuses to complete
  or send back a waiting stage, with the reason) or goes on;
* ``side_task_done`` -- the side task's stage completed: the result goes on the client's
  timeline and back to whoever holds the stage *then* (or the deal's current stage);
* ``side_task_cancel`` -- the person who handed it over, the stage's holder now, or a
  team lead withdraws it: the process is cancelled and the stage no longer waits.

Every step is audited; a refusal (a ``salesflow.exceptions`` error) writes nothing.
Locks: a request locks the stage's process, then makes the side task's new process; a
completion and a cancellation lock the side task's process first, then the stage's --
the one order between two processes, so they never wait for each other in a circle.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task
from viewflow.workflow.status import PROCESS, STATUS

from salesflow.activities.services import activity_log
from salesflow.audit.models import AuditEvent
from salesflow.audit.services import audit_record
from salesflow.clients.models import Client, Lead
from salesflow.conveyor.locking import locked_task
from salesflow.conveyor.registry import is_selling
from salesflow.conveyor.selectors import WORK_RELATED, process_client_id
from salesflow.conveyor.services import stage_hold, stage_release, work_for
from salesflow.conveyor.stage import Begin, StageWork
from salesflow.exceptions import ClaimConflict, NotFound, NotPermitted, StageInvalid
from salesflow.queues.selectors import IN_WORK
from salesflow.roles import can_manage_queues, side_task_kinds

from .models import SideTask

if TYPE_CHECKING:
    from django.contrib.auth.models import User

START_NODE = "flows.sidetasks.SideTasksFlow"
BRIEF_MAX = 4000


@cache
def _flow() -> Any:
    return import_string(START_NODE)


def _start_node() -> Begin:
    node: Begin = _flow().start
    return node


def kind_title(kind: str) -> str:
    """A kind's title in the current language (its code if no role declares it now)."""
    role = side_task_kinds().get(kind)
    if role is None:
        return kind
    title = role.side_task_kinds[kind]
    return title.get((get_language() or "en")[:2]) or title["en"]


def kind_choices() -> list[tuple[str, str]]:
    return [(code, kind_title(code)) for code in side_task_kinds()]


def _hold_key(side_task: SideTask) -> str:
    return f"side_task:{side_task.pk}"


def _deal_ended(lead: Lead) -> bool:
    process = lead.process
    return process is not None and process.status in (PROCESS.DONE, PROCESS.CANCELED)


def side_task_request(*, task: Task, user: User, kind: str, brief: str, wait: bool) -> SideTask:
    """Hand a side task over from ``task`` (the user's stage, in work): ``kind`` must be one
    the role files declare, ``brief`` must say what to do, the deal must still be on. With
    ``wait`` the stage cannot be completed until the side task is done or cancelled."""
    kinds = side_task_kinds()
    brief = (brief or "").strip()
    errors: dict[str, list[str]] = {}
    if kind not in kinds:
        errors["kind"] = [
            _("“%(kind)s” is not a kind of side task (the role files declare: %(known)s).")
            % {"kind": kind, "known": ", ".join(kinds) or "-"}
        ]
    if not brief:
        errors["brief"] = [_("Write a brief: what the assistant must do, and by when.")]
    elif len(brief) > BRIEF_MAX:
        errors["brief"] = [_("A brief is at most %(max)s characters.") % {"max": BRIEF_MAX}]
    if errors:
        raise StageInvalid(
            _("The side task was not handed over: %(reasons)s")
            % {"reasons": " ".join(m for ms in errors.values() for m in ms)},
            errors=errors,
        )
    with locked_task(task, WORK_RELATED) as locked:
        work = work_for(task=locked, user=user)
        if not is_selling(locked.flow_task):
            raise NotPermitted(
                _("“%(stage)s” is non-selling work itself: it hands over no side tasks.")
                % {"stage": locked.flow_task.task_title}
            )
        lead = work.lead
        client_id = process_client_id(locked.process)
        if client_id is None:
            raise NotPermitted(_("This task is about no client: there is nobody to work for."))
        if lead is not None and lead.process is not None and _deal_ended(lead):
            raise NotPermitted(
                _("The deal has ended (%(status)s): no side tasks for it.")
                % {"status": lead.process.get_status_display().lower()}
            )
        client = Client.objects.get(pk=client_id)
        process = _start_node().run(client=client, lead=lead)
        side_task = SideTask.objects.create(
            process=process,
            origin_task=locked,
            client=client,
            lead=lead,
            kind=kind,
            brief=brief,
            waits=wait,
            requested_by=user,
        )
        if wait:
            stage_hold(
                task=locked,
                key=_hold_key(side_task),
                reason=_("waiting for the assistant (side task #%(id)s: %(kind)s)")
                % {"id": side_task.pk, "kind": kind_title(kind)},
            )
        audit_record(
            action=AuditEvent.Action.SIDE_TASK,
            actor=user,
            task=locked,
            client_id=client_id,
            reason=brief[:500],
            data={"side_task": side_task.pk, "kind": kind, "waits": wait},
        )
    return side_task


def side_task_of(process_id: int) -> SideTask | None:
    return SideTask.objects.filter(process_id=process_id).first()


def _holder_now(side_task: SideTask) -> User | None:
    """Who the result goes back to: the holder of the stage it came from, if that stage is
    still open; else whoever holds the deal's current stage (None: it waits in a pool)."""
    origin = side_task.origin_task
    if origin.status in IN_WORK:
        owner: User | None = origin.owner
        return owner
    current = (
        Task.objects.filter(
            process_id=origin.process_id,
            flow_task_type="HUMAN",
            status__in=IN_WORK,
            owner__isnull=False,
        )
        .select_related("owner")
        .order_by("-created", "-pk")
        .first()
    )
    return current.owner if current is not None else None


def _release_origin(side_task: SideTask) -> None:
    """The stage no longer waits for this side task (locks the stage's process after the
    side task's: the order every completion and cancellation keeps)."""
    if not side_task.waits:
        return
    with locked_task(side_task.origin_task) as origin:
        stage_release(task=origin, key=_hold_key(side_task))
    side_task.origin_task = origin


def side_task_done(*, work: StageWork, data: dict[str, Any]) -> None:
    """The side task's stage is completed (inside ``stage_complete``, its process locked):
    the result on the client's timeline, the stage released, the result returned to whoever
    holds the stage now."""
    side_task = (
        SideTask.objects.select_for_update(of=("self",))
        .filter(process_id=work.task.process_id)
        .select_related("origin_task__owner", "client", "lead")
        .first()
    )
    if side_task is None:
        raise StageInvalid(_("This side task's brief is gone."))
    if side_task.status != SideTask.Status.OPEN:
        raise ClaimConflict(_("This side task was cancelled."))
    result = str(data["result"]).strip()
    activity_log(
        user=work.user,
        client=side_task.client,
        kind="note",
        text=_("Side task “%(kind)s” done: %(result)s")
        % {"kind": kind_title(side_task.kind), "result": result},
        lead=side_task.lead,
        task=work.task,
    )
    _release_origin(side_task)
    side_task.status = SideTask.Status.DONE
    side_task.result = result
    side_task.finished = timezone.now()
    side_task.finished_by = work.user
    side_task.returned_to = _holder_now(side_task)
    side_task.save(update_fields=["status", "result", "finished", "finished_by", "returned_to"])


def may_cancel(*, side_task: SideTask, user: User) -> bool:
    origin = side_task.origin_task
    return (
        user.pk == side_task.requested_by_id
        or (origin.status in IN_WORK and origin.owner_id == user.pk)
        or can_manage_queues(user)
    )


@transaction.atomic
def side_task_cancel(*, side_task_id: int, user: User, reason: str) -> SideTask:
    """Withdraw an open side task: by whoever handed it over, the stage's holder now, or a
    team lead; a reason is required. Its task is cancelled, the stage no longer waits."""
    reason = (reason or "").strip()
    side_task = SideTask.objects.filter(pk=side_task_id).select_related("origin_task").first()
    if side_task is None:
        raise NotFound(_("No side task #%(id)s.") % {"id": side_task_id})
    if not may_cancel(side_task=side_task, user=user):
        raise NotPermitted(
            _(
                "Only whoever handed the side task over, the stage's holder or a team lead "
                "may cancel it."
            )
        )
    if not reason:
        raise StageInvalid(
            _("Say why the side task is cancelled."), errors={"reason": [_("Required.")]}
        )
    task = Task.objects.filter(
        process_id=side_task.process_id, flow_task_type="HUMAN", status__in=(*IN_WORK, STATUS.NEW)
    ).first()
    if task is None:
        raise ClaimConflict(_("Side task #%(id)s is already finished.") % {"id": side_task.pk})
    with locked_task(task) as locked:
        side_task.refresh_from_db()
        if side_task.status != SideTask.Status.OPEN:
            raise ClaimConflict(
                _("Side task #%(id)s is already %(status)s.")
                % {"id": side_task.pk, "status": side_task.get_status_display().lower()}
            )
        _flow().instance.cancel(locked.process)
        _release_origin(side_task)
        side_task.status = SideTask.Status.CANCELLED
        side_task.cancel_reason = reason
        side_task.finished = timezone.now()
        side_task.finished_by = user
        side_task.save(update_fields=["status", "cancel_reason", "finished", "finished_by"])
        audit_record(
            action=AuditEvent.Action.CANCEL,
            actor=user,
            task=locked,
            client_id=side_task.client_id,
            reason=reason,
            data={"side_task": side_task.pk},
        )
    return side_task


def side_tasks_of_process(process_id: int) -> list[SideTask]:
    """The side tasks handed over from a process's stages, newest first (the stage page's
    panel: the result comes back to whoever holds the deal's stage)."""
    return list(
        SideTask.objects.filter(origin_task__process_id=process_id)
        .select_related("requested_by", "finished_by", "returned_to")
        .order_by("-created", "-pk")[:50]
    )
