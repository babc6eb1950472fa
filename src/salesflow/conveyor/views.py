"""Pages of a stage: work on it (with the handoff section), take it, give it back, and the
index that sends a person to the one of them they may use.

Thin: each POST calls one service; a refusal (``SalesflowError``) is shown on the page with
its message and the status the error carries, and nothing has been written. A page of a
task one may not work answers 403 (404 for no such task): there is no read-only view of
someone else's task -- the client's card is where anyone looks at a client.
"""

from __future__ import annotations

from functools import wraps
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.views import generic
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from salesflow.clients.selectors import client_card
from salesflow.clients.services import lead_contact_confirm
from salesflow.exceptions import ClaimConflict, NotFound, NotPermitted, SalesflowError
from salesflow.handoff.selectors import client_history, incoming_notes
from salesflow.queues.access import access_task
from salesflow.queues.claims import task_claim, task_touch, task_unassign
from salesflow.queues.selectors import IN_WORK
from salesflow.roles import roles_for_node, user_role_codes
from salesflow.web import person, task_of

from . import services
from .forms import HandoffForm, UnassignForm, bounce_form

if TYPE_CHECKING:
    pass
from .registry import node_ref
from .selectors import PAGE_RELATED, describe_notes, lead_of, process_client_id
from .stage import is_stage


def task_view(node: Any, view: Any) -> Any:
    """Wrap a view of one stage's task: signed-in users only, the task must belong to this
    node and process (else 404) and be one the person may see (``access_task``, else 403),
    and ``request.activation`` is set for viewflow's templates."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, process_pk: int, task_pk: int, **kwargs: Any) -> HttpResponse:
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
        request.activation = node.activation_class(task)  # type: ignore[attr-defined]
        response: HttpResponse = view(request, process_pk=process_pk, task_pk=task_pk, **kwargs)
        return response

    return wrapper


def _task_url(task: Task, name: str) -> str:
    url: str = task.flow_task.reverse(name, args=[task.process_id, task.pk])
    return url


def _work_url(request: HttpRequest, task: Task) -> str:
    """Where a person goes after acting on a task: their tasks in the role that performs
    its stage, or the Work menu's front door."""
    codes = user_role_codes(request.user)
    for role in roles_for_node(node_ref(task.flow_task)):
        if role.code in codes:
            return reverse("work:mine", args=[role.code])
    return reverse("work:index")


def refused_page(request: HttpRequest, task: Task, error: SalesflowError) -> HttpResponse:
    """A refusal on a task's page: the message, with the status the error carries (403 for
    a task one may not work), and -- for a task waiting in a pool -- the way to take it."""
    return TemplateResponse(
        request,
        "salesflow/conveyor/refused.html",
        {
            "task": task,
            "lead": lead_of(task),
            "message": error.message,
            "claim_url": _task_url(task, "assign")
            if task.status == STATUS.NEW and task.flow_task.can_assign(request.user, task)
            else None,
        },
        status=error.status,
    )


def refused(request: HttpRequest, error: SalesflowError) -> None:
    messages.error(request, error.message)


def task_index(request: HttpRequest, **kwargs: Any) -> HttpResponse:
    """A task's address in the lists: its page for its holder, "take it" for a task waiting
    in the person's pool, and the client's card for a team lead or a pool member looking
    at someone else's task (the task's own page is its holder's)."""
    task = task_of(request)
    if task.status in IN_WORK and task.owner_id == request.user.pk:
        return HttpResponseRedirect(_task_url(task, "execute"))
    if task.status == STATUS.NEW and task.flow_task.can_assign(request.user, task):
        return HttpResponseRedirect(_task_url(task, "assign"))
    client_id = process_client_id(task.process)
    if client_id is not None:
        return HttpResponseRedirect(reverse("clients:detail", args=[client_id]))
    return refused_page(
        request,
        task,
        NotPermitted(_("Task #%(id)s is not yours to work on.") % {"id": task.pk}),
    )


class StageView(generic.TemplateView):
    """The stage page: the incoming handoff note on top, the client's handoff history, the
    stage's form with the note for the next stage, and the way back (bounce)."""

    template_name = "salesflow/conveyor/stage.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.task = task_of(request)
        try:
            self.work = services.work_for(task=self.task, user=person(request))
        except SalesflowError as error:
            return refused_page(request, self.task, error)
        self.node = self.work.node
        return super().dispatch(request, *args, **kwargs)

    def forms(self, data: Any = None, *, action: str = "") -> dict[str, Any]:
        """The page's forms; those of the submitted ``action`` bound to ``data``. After the
        note was acknowledged from the stage form, what was typed so far comes back as the
        forms' initial values (unbound: nothing was submitted for checking yet)."""
        stage_data = data if action == "complete" else None
        kept = self.request.session.pop(self.draft_key, {}) if data is None else {}
        forms: dict[str, Any] = {
            "form": self.node.form_class(
                data=stage_data, work=self.work, prefix="stage", initial=kept.get("stage")
            )
        }
        if self.node.handoff is not None:
            forms["handoff_form"] = HandoffForm(
                data=stage_data,
                template=self.node.handoff,
                prefix="handoff",
                initial=kept.get("handoff"),
            )
        if self.node.bounce_node is not None:
            forms["bounce_form"] = bounce_form(data=data if action == "bounce" else None)
        return forms

    @property
    def draft_key(self) -> str:
        """Where the typing of this task's page waits in the session across a redirect."""
        return f"salesflow-stage-draft-{self.task.pk}"

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
        pending = next((v for v in notes if v.note.acknowledged_by_id is None), None)
        context.update(
            task=self.task,
            process=self.task.process,
            work=self.work,
            node=self.node,
            incoming=notes,
            pending=pending.note if pending else None,
            pending_author=pending.author_name if pending else "",
            history=describe_notes(client_history(client_id=self.work.client_id))
            if self.work.client_id is not None
            else [],
            # contacts as this user may see them (the task's owner: in full)
            client_card=client_card(client=self.work.client, user=self.request.user)
            if self.work.client is not None
            else None,
            panels=[
                import_string(panel)(request=self.request, task=self.task, work=self.work)
                for panel in settings.SALESFLOW_STAGE_PANELS
            ],
        )
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        action = request.POST.get("action", "complete")
        if action not in ("complete", "bounce", "acknowledge", "confirm_contact"):
            return HttpResponse(status=400)
        forms = self.forms(data=request.POST, action=action)
        try:
            if action == "confirm_contact" and self.work.lead is not None:
                lead_contact_confirm(lead_id=self.work.lead.pk, user=self.work.user)
                messages.success(request, _("Added to the client's contacts."))
                return HttpResponseRedirect(request.path)
            if action == "acknowledge":
                # the button belongs to the stage form: the page comes back with the order
                # and the note typed so far still in their fields
                services.stage_acknowledge(task=self.task, user=person(request))
                messages.success(request, _("Handoff note acknowledged."))
                # kept for the next GET (the page's forms post through Turbo, which follows
                # a redirect but does not render a 200 answer to a POST)
                request.session[self.draft_key] = {
                    "stage": _unprefixed(request.POST, "stage"),
                    "handoff": _unprefixed(request.POST, "handoff"),
                }
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
                return HttpResponseRedirect(_work_url(request, self.task))
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
        return HttpResponseRedirect(_work_url(request, self.task))


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
    """Take a task from the pool (through ``task_claim``): what it is, and the button."""

    template_name = "salesflow/conveyor/claim.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        task = task_of(self.request)
        lead = lead_of(task)
        return super().get_context_data(task=task, lead=lead, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        task = task_of(request)
        try:
            task_claim(task=task, user=person(request))
        except SalesflowError as error:
            return refused_page(request, task, error)
        messages.success(request, _("Task #%(id)s is yours.") % {"id": task.pk})
        return HttpResponseRedirect(_task_url(task, "execute"))


if TYPE_CHECKING:
    _FormView = generic.FormView[UnassignForm]
else:
    _FormView = generic.FormView


class UnassignTaskView(_FormView):
    """Give a task back to its pool without completing it (through ``task_unassign``):
    it needs a reason, which the team leads see; giving work back is counted."""

    template_name = "salesflow/conveyor/unassign.html"

    def get_form_class(self) -> Any:
        return UnassignForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        task = task_of(self.request)
        return super().get_context_data(task=task, lead=lead_of(task), **kwargs)

    def form_valid(self, form: Any) -> HttpResponse:
        request = self.request
        task = task_of(request)
        try:
            task_unassign(task=task, user=person(request), reason=form.cleaned_data["reason"])
        except SalesflowError as error:
            if isinstance(error, (NotPermitted, ClaimConflict)):
                return refused_page(request, task, error)
            form.add_error(None, error.message)
            for message in error.errors.get("reason", []):
                form.add_error("reason", message)
            return self.render_to_response(self.get_context_data(form=form), status=error.status)
        messages.success(request, _("Task #%(id)s is back in its pool.") % {"id": task.pk})
        return HttpResponseRedirect(_work_url(request, task))

    def form_invalid(self, form: Any) -> HttpResponse:
        return self.render_to_response(self.get_context_data(form=form), status=400)


class ChartPageView(generic.TemplateView):
    """The conveyor's front page: its chart inside the application (with the menu), and
    which roles work each stage and in how long -- the picture with its people."""

    template_name = "salesflow/conveyor/chart.html"
    flow_class: Any = None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not self.flow_class.instance.has_view_permission(request.user):
            raise PermissionDenied
        return cast(HttpResponse, super().dispatch(request, *args, **kwargs))

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        from django.utils.safestring import mark_safe
        from viewflow.workflow import chart

        from salesflow.roles import sla_for_node

        flow = self.flow_class.instance
        language = getattr(self.request, "LANGUAGE_CODE", "en")
        stages = []
        declared = list(vars(self.flow_class))  # the class reads like the diagram
        for node in sorted(
            flow.nodes(), key=lambda n: declared.index(n.name) if n.name in declared else 999
        ):
            if not is_stage(node):
                continue
            ref = node_ref(node)
            roles = roles_for_node(ref)
            try:
                sla = sla_for_node(ref)
            except KeyError:
                sla = None
            stages.append(
                {
                    "title": node.task_title,
                    "roles": ", ".join(role.title_for(language) for role in roles),
                    "sla_hours": round(sla.total_seconds() / 3600) if sla else None,
                }
            )
        svg = chart.grid_to_svg(chart.calc_layout_data(self.flow_class))
        return super().get_context_data(
            flow=flow,
            title=self.flow_class.process_title,
            description=self.flow_class.process_description,
            svg=mark_safe(svg),  # noqa: S308 -- viewflow's own drawing of our flow
            stages=stages,
            **kwargs,
        )
