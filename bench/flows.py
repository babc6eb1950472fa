"""The baseline for the conveyor benchmark: a bare viewflow flow with the conveyor's main
path -- the same human nodes and gateways -- and nothing of ours: no handoff notes, no
audit, no rules, no business data."""

from viewflow import this
from viewflow.workflow import flow, lock
from viewflow.workflow.flow.views import UpdateProcessView


def _true(activation) -> bool:
    return True


def _false(activation) -> bool:
    return False


class BareFlow(flow.Flow):
    """Bare baseline"""

    lock_impl = lock.select_for_update_lock

    start = flow.StartHandle().Next(this.qualify)
    qualify = flow.View(UpdateProcessView.as_view(fields=[])).Next(this.qualification)
    qualification = flow.Switch().Case(this.prepare_order, _true).Default(this.end)
    prepare_order = flow.View(UpdateProcessView.as_view(fields=[])).Next(this.order_terms)
    order_terms = (
        flow.Switch().Case(this.end, _false).Case(this.end, _false).Default(this.documents)
    )
    documents = flow.View(UpdateProcessView.as_view(fields=[])).Next(this.delivery)
    delivery = flow.View(UpdateProcessView.as_view(fields=[])).Next(this.follow_up)
    follow_up = flow.View(UpdateProcessView.as_view(fields=[])).Next(this.repeat_check)
    repeat_check = flow.If(_false).Then(this.end).Else(this.end)
    end = flow.End()
