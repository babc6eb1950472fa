"""Pages of a stage: work on it (with the handoff section), take it, give it back.

Thin: each POST calls one service; a refusal (``SalesflowError``) is shown on the page with
its message and the status the error carries, and nothing has been written.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.utils.translation import gettext as _
from django.views import generic
from viewflow.workflow.models import Task

from salesflow.clients.selectors import client_card
from salesflow.exceptions import NotFound, NotPermitted, SalesflowError
from salesflow.handoff.selectors import client_history, incoming_notes
from salesflow.http import person
from salesflow.queues.access import access_task
from salesflow.queues.claims import task_claim, task_touch, task_unassign

from . import services
from .forms import HandoffForm, bounce_form
from .registry import node_ref
from .selectors import PAGE_RELATED, describe_notes
from .stage import StageNode


def task_view(
    node: StageNode, view: Callable[..., HttpResponseBase]
) -> Callable[..., HttpResponseBase]:
    """Wrap a view of one stage's task: signed-in users only, the task must belong to this
    node and process (else 404) and be one the person may see (``access_task``, else 403),
    and ``request.activation`` is set for viewflow's templates."""

    @login_required
    @wraps(view)
    def wrapper(
        request: HttpRequest, process_pk: int, task_pk: int, **kwargs: Any
    ) -> HttpResponseBase:
        try:
            task = access_task(
                user=request.user, task_id=task_pk, process_id=process_pk, related=PAGE_RELATED
            )
        except NotFound:
            raise Http404("No such task.") from None
        except NotPermitted:
            raise PermissionDenied from None
        if task.flow_task != node:
            raise Http404("No such task at this stage.")
        # viewflow's templates read the activation from the request
        setattr(request, "activation", node.activation_class(task))  # noqa: B010
        return view(request, process_pk=process_pk, task_pk=task_pk, task=task, **kwargs)

    return wrapper


def _task_detail_url(task: Task) -> str:
    url: str = task.flow_task.reverse("detail", args=[task.process_id, task.pk])
    return url


def _inbox_url(request: HttpRequest) -> str:
    """The inbox of the flow the page belongs to."""
    viewset = getattr(request.resolver_match, "flow_viewset", None)
    return viewset.reverse("inbox") if viewset is not None else "/"


def refused(request: HttpRequest, error: SalesflowError) -> None:
    messages.error(request, error.message)


class StageView(generic.TemplateView):
    """The stage page: the incoming handoff note on top, the client's handoff history, the
    stage's form with the note for the next stage, and the way back (bounce)."""

    template_name = "salesflow/conveyor/stage.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.task: Task = kwargs["task"]
        try:
            self.work = services.work_for(task=self.task, user=person(request))
        except SalesflowError as error:
            refused(request, error)
            return HttpResponseRedirect(_task_detail_url(self.task))
        self.node = self.work.node
        return super().dispatch(request, *args, **kwargs)

    def forms(self, data: Any = None, *, action: str = "") -> dict[str, Any]:
        """The page's forms; those of the submitted ``action`` bound to ``data``."""
        stage_data = data if action == "complete" else None
        forms: dict[str, Any] = {
            "form": self.node.form_class(data=stage_data, work=self.work, prefix="stage")
        }
        if self.node.handoff is not None:
            forms["handoff_form"] = HandoffForm(
                data=stage_data, template=self.node.handoff, prefix="handoff"
            )
        if self.node.bounce_node is not None:
            forms["bounce_form"] = bounce_form(data=data if action == "bounce" else None)
        return forms

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        task_touch(task=self.task, user=person(request))  # the owner is on it
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        for name, form in self.forms().items():
            context.setdefault(name, form)
        notes = describe_notes(
            incoming_notes(process_id=self.task.process_id, node_ref=node_ref(self.node))
        )
        context.update(
            task=self.task,
            process=self.task.process,
            work=self.work,
            node=self.node,
            incoming=notes,
            pending=next((v.note for v in notes if v.note.acknowledged_by_id is None), None),
            history=describe_notes(client_history(client_id=self.work.client_id))
            if self.work.client_id is not None
            else [],
            # contacts as this user may see them (the task's owner: in full)
            client_card=client_card(client=self.work.client, user=self.request.user)
            if self.work.client is not None
            else None,
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        action = request.POST.get("action", "complete")
        if action not in ("complete", "bounce", "acknowledge"):
            return HttpResponse(status=400)
        forms = self.forms(data=request.POST, action=action)
        try:
            if action == "acknowledge":
                services.stage_acknowledge(task=self.task, user=person(request))
                messages.success(request, _("Handoff note acknowledged."))
                return HttpResponseRedirect(request.path)
            if action == "bounce":
                form = forms.get("bounce_form") or bounce_form(data=request.POST)
                services.stage_bounce(
                    task=self.task,
                    user=person(request),
                    question=form.note_fields(),
                    note_text=form.note_text(),
                )
                messages.success(request, _("Sent back with your question."))
                return HttpResponseRedirect(_inbox_url(request))
            handoff_form = forms.get("handoff_form")
            services.stage_complete(
                task=self.task,
                user=person(request),
                data=_unprefixed(request.POST, "stage"),
                handoff=handoff_form.note_fields() if handoff_form else None,
                note_text=handoff_form.note_text() if handoff_form else "",
                acknowledge=bool(request.POST.get("acknowledge")),
            )
        except SalesflowError as error:
            refused(request, error)
            # The stage form shows its own errors (it is bound); a note's errors come from
            # its template in the service and are carried onto the note's form here.
            note_form = forms.get("bounce_form" if action == "bounce" else "handoff_form")
            if note_form is not None:
                for field, field_errors in error.errors.items():
                    if field in note_form.fields or field == "__all__":
                        for message in field_errors:
                            note_form.add_error(None if field == "__all__" else field, message)
            return self.render_to_response(self.get_context_data(**forms), status=error.status)
        messages.success(request, _("“%(stage)s” done.") % {"stage": self.node.task_title})
        return HttpResponseRedirect(_inbox_url(request))


def _unprefixed(data: Any, prefix: str) -> dict[str, Any]:
    """Form data of one prefixed form, keys without the prefix (what the service takes)."""
    start = f"{prefix}-"
    result: dict[str, Any] = {}
    for key in data:
        if key.startswith(start):
            values = data.getlist(key)
            result[key[len(start) :]] = values if len(values) > 1 else values[0]
    return result


class ClaimTaskView(generic.TemplateView):
    """Take a task from the pool (viewflow's assign page, through ``task_claim``)."""

    template_name = "viewflow/workflow/task_assign.html"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        task: Task = kwargs["task"]
        try:
            task_claim(task=task, user=person(request))
        except SalesflowError as error:
            refused(request, error)
            return HttpResponseRedirect(_task_detail_url(task))
        messages.success(request, _("Task #%(id)s is yours.") % {"id": task.pk})
        return HttpResponseRedirect(
            task.flow_task.reverse("execute", args=[task.process_id, task.pk])
        )


class UnassignTaskView(generic.TemplateView):
    """Give a task back to its pool (viewflow's unassign page, through ``task_unassign``)."""

    template_name = "viewflow/workflow/task_unassign.html"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        task: Task = kwargs["task"]
        try:
            task_unassign(task=task, user=person(request))
        except SalesflowError as error:
            refused(request, error)
            return HttpResponseRedirect(_task_detail_url(task))
        messages.success(request, _("Task #%(id)s is back in its pool.") % {"id": task.pk})
        return HttpResponseRedirect(_inbox_url(request))
