"""The side tasks' pages: the panel on every stage page (hand one over; the ones handed
over from this deal, with their results), handing over, cancelling.

Thin: each POST calls one service of ``flows.sidework``; a refusal is shown with its
message and the status it carries, and nothing has been written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from viewflow.workflow.models import Task

from salesflow.conveyor.registry import is_selling
from salesflow.exceptions import NotFound, NotPermitted, SalesflowError
from salesflow.queues.access import access_task
from salesflow.queues.selectors import IN_WORK
from salesflow.web import person

from . import sidework
from .forms import SideTaskCancelForm, SideTaskRequestForm
from .models import SideTask

if TYPE_CHECKING:
    from salesflow.conveyor.stage import StageWork


def _flow() -> Any:
    return sidework._flow().instance


def _stage_url(task: Task) -> str:
    url: str = task.flow_task.reverse("execute", args=[task.process_id, task.pk])
    return url


def stage_panel(*, request: HttpRequest, task: Task, work: StageWork) -> SafeString:
    """The stage page's side-task panel (``SALESFLOW_STAGE_PANELS``): the side tasks handed
    over from this deal's stages -- the results come back to whoever holds it now -- and,
    on a stage other than a side task's own, the form to hand one over."""
    if not is_selling(task.flow_task):
        return mark_safe("")  # noqa: S308 - nothing of anyone's
    side_tasks = sidework.side_tasks_of_process(task.process_id)
    flow = _flow()
    html = render_to_string(
        "flows/side_tasks_panel.html",
        {
            "side_tasks": [
                {
                    "item": item,
                    "kind": sidework.kind_title(item.kind),
                    "cancel_url": flow.reverse("side_task_cancel", args=[item.pk])
                    if item.status == SideTask.Status.OPEN
                    else "",
                }
                for item in side_tasks
            ],
            "form": SideTaskRequestForm(choices=sidework.kind_choices()),
            "cancel_form": SideTaskCancelForm(),
            "request_url": flow.reverse("side_task_request", args=[task.pk]),
            "waiting": [item for item in side_tasks if item.waits and item.status == "open"],
        },
        request=request,
    )
    return mark_safe(html)  # noqa: S308 - rendered by the template engine, escaped there


def _refused(request: HttpRequest, error: SalesflowError, back: str) -> HttpResponse:
    return TemplateResponse(
        request,
        "flows/side_task_refused.html",
        {"message": error.message, "errors": error.errors, "back": back},
        status=error.status,
    )


@login_required
@require_POST
def side_task_request_view(request: HttpRequest, task_pk: int) -> HttpResponse:
    """Hand a side task over from the user's stage ``task_pk``."""
    user = person(request)
    try:
        task = access_task(user=user, task_id=task_pk)
    except NotFound:
        raise Http404("No such task.") from None
    except NotPermitted as error:
        return _refused(request, error, "/")
    try:  # the service checks the kind and the brief (the API alike)
        side_task = sidework.side_task_request(
            task=task,
            user=user,
            kind=str(request.POST.get("kind", "")),
            brief=str(request.POST.get("brief", "")),
            wait=bool(request.POST.get("wait")),
        )
    except SalesflowError as error:
        return _refused(request, error, _stage_url(task) if task.status in IN_WORK else "/")
    messages.success(
        request,
        _("Side task #%(id)s handed to the assistants.") % {"id": side_task.pk},
    )
    return HttpResponseRedirect(_stage_url(task))


@login_required
@require_POST
def side_task_cancel_view(request: HttpRequest, side_task_pk: int) -> HttpResponse:
    """Cancel an open side task (whoever handed it over, the stage's holder, a team lead)."""
    user = person(request)
    try:
        side_task = sidework.side_task_cancel(
            side_task_id=side_task_pk, user=user, reason=str(request.POST.get("reason", ""))
        )
    except NotFound:
        raise Http404("No such side task.") from None
    except SalesflowError as error:
        return _refused(request, error, "/")
    messages.success(request, _("Side task #%(id)s cancelled.") % {"id": side_task.pk})
    origin = side_task.origin_task
    back = _stage_url(origin) if origin.status in IN_WORK and origin.owner_id == user.pk else "/"
    return HttpResponseRedirect(back)


urlpatterns: list[URLPattern] = [
    path("from/<int:task_pk>/", side_task_request_view, name="side_task_request"),
    path("<int:side_task_pk>/cancel/", side_task_cancel_view, name="side_task_cancel"),
]
