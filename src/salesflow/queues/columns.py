"""The columns a role's pool and inbox can show, by the name role files use.

A role lists the ones it works by in its file (``[pool] columns = [...]``); the pages render
them in that order, sort by those that have an ``orderby``. Every path is read by the pool
selectors in the same query as the tasks (``selectors.POOL_RELATED``), so a column costs no
query of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise


@dataclass(frozen=True)
class Column:
    name: str
    label: StrOrPromise
    # an ORM path on viewflow's Task to sort by ("-" first: the natural order is descending)
    orderby: str | None


COLUMNS: dict[str, Column] = {
    column.name: column
    for column in (
        Column("stage", _("Stage"), "flow_task"),
        Column("company", _("Company"), "process__lead__client__name"),
        Column("source", _("Lead source"), "process__lead__source"),
        Column("request", _("Request"), None),
        Column("age", _("Age"), "-created"),
        Column("due", _("Due"), "data__sf_due"),
        Column("priority", _("Priority"), "-data__sf_priority"),
        Column("nurture_until", _("Nurtured until"), "process__lead__nurture_until"),
        Column("amount", _("Order amount"), "process__lead__order__amount"),
        Column("discount", _("Discount, %"), "process__lead__order__discount"),
        Column("documents_missing", _("Documents missing"), None),
        Column("delivery_date", _("Delivery date"), "process__lead__order__delivery_date"),
        Column("delivery_address", _("Delivery address"), None),
        Column("owner", _("Owner"), "owner__username"),
        Column("stalled", _("Stalled"), "data__sf_stalled"),
        # what the stage waits for before it can be completed (a side task): Task.data
        Column("waiting", _("Waiting for"), None),
    )
}
