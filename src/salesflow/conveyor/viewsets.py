"""viewflow's flow application, with its bulk actions routed through the engine's
services (viewflow's own assign every selected task without our rules or history)."""

from django.contrib import messages
from django.db import transaction
from django.http import HttpResponseRedirect
from django.utils.translation import gettext_lazy as _
from viewflow.workflow.flow import FlowAppViewset
from viewflow.workflow.flow.views import BulkAssignTasksActionView, BulkUnassignTasksActionView
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from salesflow.exceptions import SalesflowError
from salesflow.queues.claims import task_claim, task_unassign


class _BulkMixin:
    """All selected tasks move, or none: the first refusal rolls the whole batch back and
    is shown with its reason."""

    service = None
    statuses: tuple[str, ...] = ()
    done_message = ""

    def get_queryset(self):
        pks = self.request.POST.getlist("pk")
        queryset = Task.objects.filter(
            process__flow_class=self.flow_class, status__in=self.statuses
        ).select_related("process")
        if not self.request.POST.get("select_all"):
            queryset = queryset.filter(pk__in=pks)
        self.object_list = queryset
        return queryset

    def form_valid(self, form):
        try:
            with transaction.atomic():
                tasks = list(self.get_queryset())
                for task in tasks:
                    type(self).service(task=task, user=self.request.user)
        except SalesflowError as error:
            messages.error(self.request, error.message)
        else:
            messages.success(self.request, str(self.done_message) % {"count": len(tasks)})
        return HttpResponseRedirect(self.get_success_url())


class BulkClaimView(_BulkMixin, BulkAssignTasksActionView):
    service = task_claim
    statuses = (STATUS.NEW,)
    done_message = _("%(count)d tasks are yours.")


class BulkUnassignView(_BulkMixin, BulkUnassignTasksActionView):
    service = task_unassign
    statuses = (STATUS.ASSIGNED, STATUS.STARTED)
    done_message = _("%(count)d tasks are back in their pools.")


class ConveyorAppViewset(FlowAppViewset):
    tasks_assign_view_class = BulkClaimView
    tasks_unassign_view_class = BulkUnassignView
