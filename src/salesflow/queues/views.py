"""The pages of the pools: a role's pool and a person's inbox, "take the next task", and the
team lead's console (every pool at a glance, reassignment, offboarding).

Thin: each page reads through ``selectors`` and each action calls one service
(``claims``, ``moves``); a refusal (``SalesflowError``) is shown with its message and
nothing is written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.defaultfilters import truncatechars
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import generic
from viewflow.views import ListModelView
from viewflow.views.actions import BaseBulkActionView
from viewflow.views.base import Action
from viewflow.workflow.models import Task

from salesflow import people
from salesflow.clients.models import Lead
from salesflow.conveyor.selectors import lead_of, process_subject
from salesflow.exceptions import ClaimConflict, NotFound, NotPermitted, SalesflowError
from salesflow.people import display_name, display_names
from salesflow.roles import Role, can_manage_queues, holds_role, roles_of
from salesflow.web import person

from . import selectors
from .access import access_pool
from .claims import task_claim_next
from .columns import COLUMNS
from .forms import ConsoleFilter, OffboardForm, PoolFilter, ReassignForm
from .moves import OffboardPlan, tasks_reassign, user_offboard
from .terms import HOLDS, Priority, StallReason, terms_of


def task_url(task: Task) -> str:
    url: str = task.flow_task.reverse("index", args=[task.process_id, task.pk])
    return url


# Attributes Django's View.setup puts on every view instance: a column method of that name
# would be shadowed by them (the "request" column once showed ``<WSGIRequest ...>``).
_VIEW_INSTANCE_ATTRS = frozenset({"request", "args", "kwargs", "head"})


def column_attr(name: str) -> str:
    """The view method that renders the column a role file calls ``name``."""
    return f"lead_{name}" if name in _VIEW_INSTANCE_ATTRS else name


class TaskColumns:
    """The columns of ``columns.COLUMNS`` as methods of a list view (viewflow's
    ListModelView calls them with each row, read with ``selectors.POOL_RELATED``).
    A column is looked up through ``column_attr``, never by its bare name."""

    def task(self, task: Task) -> str:
        return format_html('<a href="{}">#{}</a>', task_url(task), task.pk)

    task.short_description = "#"  # type: ignore[attr-defined]

    def stage(self, task: Task) -> str:
        return str(task.flow_task.task_title)

    def company(self, task: Task) -> str:
        lead = lead_of(task)
        if lead is not None:
            return lead.client.name
        subject = process_subject(task.process)  # work about a client, no deal
        return subject.client.name if subject is not None else ""

    def source(self, task: Task) -> str:
        lead = lead_of(task)
        return self.labels["source"].get(lead.source, lead.source) if lead else ""

    def lead_request(self, task: Task) -> str:
        lead = lead_of(task)
        return truncatechars(lead.request, 60) if lead else ""

    def age(self, task: Task) -> str:
        return timesince(task.created, self.now)

    def due(self, task: Task) -> str:
        due = terms_of(task).due
        if due is None:
            return ""
        text = date_format(timezone.localtime(due), "SHORT_DATETIME_FORMAT")
        if due < self.now:
            return format_html('<span class="sf-overdue" title="{}">{}</span>', _("Overdue"), text)
        return text

    def priority(self, task: Task) -> str:
        return self.labels["priority"].get(terms_of(task).priority, "")

    def nurture_until(self, task: Task) -> Any:
        lead = lead_of(task)
        return lead.nurture_until if lead else None

    def _order(self, task: Task) -> Any:
        lead = lead_of(task)
        return getattr(lead, "order", None) if lead else None

    def amount(self, task: Task) -> str:
        order = self._order(task)
        return number_format(order.amount, 2, force_grouping=True) if order else ""

    def discount(self, task: Task) -> Any:
        order = self._order(task)
        return order.discount if order else None

    def documents_missing(self, task: Task) -> str:
        order = self._order(task)
        return ", ".join(order.documents_missing) if order else ""

    def delivery_date(self, task: Task) -> Any:
        order = self._order(task)
        return order.delivery_date if order else None

    def delivery_address(self, task: Task) -> str:
        order = self._order(task)
        return truncatechars(order.delivery_address, 60) if order else ""

    def owner(self, task: Task) -> str:
        return people.shown(task.owner, self.namesakes) if task.owner else _("in the pool")

    def waiting(self, task: Task) -> str:
        holds: dict[str, str] = (task.data or {}).get(HOLDS) or {}
        return "; ".join(holds.values())

    def stalled(self, task: Task) -> str:
        marks = terms_of(task)
        if marks.stalled is None:
            return ""
        return format_html(
            '<span class="sf-stalled">{} ({})</span>',
            timesince(marks.stalled, self.now),
            self.labels["stalled_reason"].get(marks.stalled_reason, ""),
        )

    @cached_property
    def namesakes(self) -> set[str]:
        return people.namesakes()  # one query per page, not per row

    @cached_property
    def now(self) -> datetime:
        return timezone.now()

    @cached_property
    def labels(self) -> dict[str, dict[Any, str]]:
        """Choice labels translated once per page, not once per cell (``get_FOO_display``
        translates every choice of the field on each call)."""
        return {
            "source": {value: str(label) for value, label in Lead.Source.choices},
            "priority": {value: str(label) for value, label in Priority.choices},
            "stalled_reason": {value: str(label) for value, label in StallReason.choices},
        }


for _name, _column in COLUMNS.items():
    _method = getattr(TaskColumns, column_attr(_name))
    _method.short_description = _column.label
    _method.orderby_column = _column.orderby


class IdsFirstPagination:
    """Paginate a task list ids first (``selectors.page_rows``)."""

    def paginate_queryset(self, queryset: Any, page_size: int) -> Any:
        ids = queryset.values_list("pk", flat=True)
        paginator, page, id_list, is_paginated = super().paginate_queryset(  # type: ignore[misc]
            ids, page_size
        )
        page.object_list = selectors.page_rows(queryset, id_list)
        return paginator, page, page.object_list, is_paginated


class RoleMixin:
    """A page of one role's pool: its members, and the team leads, may see it
    (``access.access_pool``)."""

    request: HttpRequest
    kwargs: dict[str, Any]

    @cached_property
    def role(self) -> Role:
        try:
            return access_pool(user=self.request.user, role_code=self.kwargs["role"])
        except NotFound:
            raise Http404("No such role.") from None
        except NotPermitted:
            raise PermissionDenied from None

    @cached_property
    def holds_role(self) -> bool:
        return holds_role(user=self.request.user, role=self.role)

    def has_view_permission(self, user: Any, obj: Any = None) -> bool:
        return self.role is not None  # access_pool refused already if they may not


class RoleTaskListView(RoleMixin, TaskColumns, IdsFirstPagination, ListModelView):
    """A role's pool (``tab="pool"``) or the signed-in person's inbox of that role
    (``tab="mine"``): the role's own columns, filters, sorting, counts per tab, paging."""

    model = Task
    tab = "pool"
    template_name = "salesflow/queues/role_tasks.html"
    filterset_class = PoolFilter
    search_fields = ["process__lead__client__name"]
    ordering = selectors.URGENCY
    paginate_by = 25

    def get_columns(self) -> list[str]:
        return ["task", *(column_attr(name) for name in self.role.pool.columns)]

    def get_filterset_kwargs(self, filterset_class: Any) -> dict[str, Any]:
        return {**super().get_filterset_kwargs(filterset_class), "role": self.role}

    @property
    def title(self) -> str:
        title = self.role.title_for(self.request.LANGUAGE_CODE)
        return _("%(role)s: my tasks") % {"role": title} if self.tab == "mine" else title

    @cached_property
    def task_refs(self) -> list[str]:
        return selectors.role_task_refs(self.role)

    def get_queryset(self) -> QuerySet[Task]:
        if self.tab == "mine":
            self.queryset = selectors.inbox_tasks(
                user=person(self.request), task_refs=self.task_refs
            )
        else:
            self.queryset = selectors.pool_tasks(task_refs=self.task_refs)
        tasks: QuerySet[Task] = super().get_queryset()
        return tasks

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(
            counts=selectors.pool_counts(
                task_refs=self.task_refs, user=person(self.request), now=self.now
            ),
            role=self.role,
            tab=self.tab,
            may_claim=self.holds_role,
            **kwargs,
        )
        return context


class ClaimNextView(LoginRequiredMixin, generic.View):
    """The "take the next task" button of a role's pool (the service says who may)."""

    def post(self, request: HttpRequest, *args: Any, role: str, **kwargs: Any) -> HttpResponse:
        pool = reverse("work:pool", args=[role])
        try:
            task = task_claim_next(user=person(request), role=role)
        except SalesflowError as error:
            messages.error(request, error.message)
            return HttpResponseRedirect(pool)
        if task is None:
            messages.info(request, _("Nothing is waiting for you in this pool."))
            return HttpResponseRedirect(pool)
        messages.success(request, _("Task #%(id)s is yours.") % {"id": task.pk})
        return HttpResponseRedirect(
            task.flow_task.reverse("execute", args=[task.process_id, task.pk])
        )


class ManagerMixin:
    """Pages of the team console: team leads and admins only."""

    request: HttpRequest

    def has_view_permission(self, user: Any, obj: Any = None) -> bool:
        return can_manage_queues(user)

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            from django.contrib.auth.views import redirect_to_login

            return redirect_to_login(request.get_full_path())
        if not self.has_view_permission(request.user):
            raise PermissionDenied
        response: HttpResponse = super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        return response


class ConsoleView(ManagerMixin, TaskColumns, IdsFirstPagination, ListModelView):
    """Every pool at a glance (depth, oldest, stalled), and every open task -- stalled
    first -- to select and move."""

    model = Task
    title = gettext_lazy("Team console")
    template_name = "salesflow/queues/console.html"
    columns = ("task", "stage", "company", "owner", "age", "due", "priority", "stalled")
    filterset_class = ConsoleFilter
    search_fields = ["process__lead__client__name", "owner__username"]
    paginate_by = 50

    def get_queryset(self) -> QuerySet[Task]:
        self.queryset = selectors.console_tasks()
        tasks: QuerySet[Task] = super().get_queryset()
        return tasks

    def get_bulk_actions(self, *actions: Any) -> tuple[Any, ...]:
        return (Action(_("Reassign"), url=reverse("work:reassign")),)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        language = self.request.LANGUAGE_CODE
        pools = [(p, p.role.title_for(language)) for p in selectors.pool_summaries(now=self.now)]
        context: dict[str, Any] = super().get_context_data(pools=pools, **kwargs)
        return context


class ReassignView(ManagerMixin, BaseBulkActionView):
    """Move the tasks selected on the console to a person or back to their pools."""

    model = Task
    form_class = ReassignForm
    template_name = "salesflow/queues/reassign.html"
    filterset_class = ConsoleFilter

    def get_queryset(self) -> QuerySet[Task]:
        self.queryset = selectors.console_tasks()
        tasks: QuerySet[Task] = super().get_queryset()
        return tasks

    def get_success_url(self) -> str:
        return reverse("work:console")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(**kwargs)
        rows = list(context.get("object_list") or [])
        names = display_names(task.owner for task in rows if task.owner is not None)
        context["rows"] = [(task, names.get(task.owner_id or 0, "")) for task in rows]
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if "_confirm" in request.POST:
            response: HttpResponse = super().post(request, *args, **kwargs)
            return response
        # the selection arrives from the console: ask where it goes and why
        self.object_list = self.get_queryset()
        form = ReassignForm(
            model=Task,
            initial={
                "pk": request.POST.getlist("pk"),
                "select_all": request.POST.get("select_all", ""),
            },
        )
        return self.render(form=form)

    def render(self, status: int = 200, **context: Any) -> HttpResponse:
        response: HttpResponse = self.render_to_response(
            self.get_context_data(**context), status=status
        )
        return response

    def form_valid(self, form: ReassignForm) -> HttpResponse:
        tasks = list(self.get_queryset())
        try:
            tasks_reassign(
                tasks=tasks,
                by=person(self.request),
                to=form.cleaned_data["to"],
                reason=form.cleaned_data["reason"],
            )
        except SalesflowError as error:
            form.add_error(None, error.message)
            for field, errors in error.errors.items():
                for message in errors:
                    form.add_error(field if field in form.fields else None, message)
            return self.render(form=form, status=error.status)
        to = form.cleaned_data["to"]
        messages.success(
            self.request,
            _("%(count)d tasks moved to %(to)s.")
            % {"count": len(tasks), "to": display_name(to) if to else _("their pools")},
        )
        return HttpResponseRedirect(self.get_success_url())


class OffboardView(ManagerMixin, generic.FormView[OffboardForm]):
    """A person leaves: a preview of every open task they hold and where it goes, then one
    step that moves them all and deactivates the account."""

    form_class = OffboardForm
    template_name = "salesflow/queues/offboard.html"

    def form_valid(self, form: OffboardForm) -> HttpResponse:
        user, to = form.cleaned_data["user"], form.cleaned_data["to"]
        by = person(self.request)
        confirmed = "_confirm" in self.request.POST
        previewed = form.previewed_tasks() if confirmed else None
        try:
            if confirmed and previewed is None:
                # the selection is not what the preview showed: show this one first
                plan = user_offboard(user=user, by=by, to=to, dry_run=True)
                form.add_error(
                    None,
                    _(
                        "Nothing was done: the preview on the page was not of %(user)s. "
                        "Here is theirs; confirm it if it is right."
                    )
                    % {"user": display_name(user)},
                )
                return self.preview(form, plan, status=409)
            plan = user_offboard(
                user=user,
                by=by,
                to=to,
                dry_run=not confirmed,
                expected_tasks=previewed,
            )
        except ClaimConflict as error:  # the work changed since the preview
            form.add_error(None, error.message)
            plan = user_offboard(user=user, by=by, to=to, dry_run=True)
            return self.preview(form, plan, status=error.status)
        except SalesflowError as error:
            form.add_error(None, error.message)
            return self.render_to_response(self.get_context_data(form=form), status=error.status)
        if not confirmed:
            return self.preview(form, plan)
        messages.success(
            self.request,
            _("%(user)s is deactivated; %(count)d open tasks moved.")
            % {"user": display_name(user), "count": len(plan.tasks)},
        )
        return HttpResponseRedirect(reverse("work:console"))

    def preview(self, form: OffboardForm, plan: OffboardPlan, *, status: int = 200) -> HttpResponse:
        token = OffboardForm.preview_token(
            user_id=plan.user.pk,
            to_id=plan.to.pk if plan.to is not None else None,
            task_ids=[task.pk for task in plan.tasks],
        )
        return self.render_to_response(
            self.get_context_data(
                form=form, plan=plan, plan_token=token, leaver=display_name(plan.user)
            ),
            status=status,
        )


class WorkIndexView(LoginRequiredMixin, generic.View):
    """The Work menu's front door: the person's first role's pool, or the console."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        roles = roles_of(request.user)
        if roles:
            return HttpResponseRedirect(reverse("work:pool", args=[roles[0].code]))
        if can_manage_queues(request.user):
            return HttpResponseRedirect(reverse("work:console"))
        raise PermissionDenied
