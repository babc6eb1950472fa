"""viewflow's flow application, reduced to what goes through the engine.

viewflow mounts, for every flow, a dashboard, inbox / queue / archive lists, process and
task detail pages, bulk assign / unassign, and per node ``cancel/``, ``undo/``, ``revive/``
and gateway ``execute/`` pages. Those transitions check no role, write no audit event and
-- for a revived task -- build a task without any permission; the lists show every role's
open work and owners to anyone signed in, with their own counts and words next to the
product's pools ("Work"). So this application mounts only:

* per stage (``nodes.Stage``): its page (``execute/``), take it (``assign/``), give it back
  (``unassign/``) and an index that sends a person to the one of them they may use --
  all through the engine's services and ``queues.access.access_task``;
* the flow's chart (``chart/``: a picture, no data) and the application's front page: the
  chart inside the page, with the roles that work each stage and their time;
* the pages a flow declares itself (``Flow.pages()``), which call its services.

Every other way a task changes is not mounted. The sidebar is the Work menu, so working
a task never switches to a second vocabulary.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import URLPattern, URLResolver, include, path
from viewflow.workflow.flow import FlowAppViewset

from salesflow.queues.viewsets import work_menu

from .stage import is_stage


class ConveyorAppViewset(FlowAppViewset):
    menu_template_name = "salesflow/conveyor/menu.html"

    # viewflow's own lists, process pages and bulk actions: not mounted (see above)
    process_list_path = None
    process_detail_path = None
    process_cancel_path = None
    task_list_path = None
    flow_chart_path = None
    inbox_path = None
    queue_path = None
    archive_path = None
    tasks_assign_path = None
    tasks_unassign_path = None

    @property
    def index_path(self) -> URLPattern:
        """The application's front page is the conveyor's chart: the work itself is under
        Work (the pools and inboxes)."""
        from .views import ChartPageView

        return path("", ChartPageView.as_view(flow_class=self._flow_class), name="index")

    def _get_urls(self) -> list[URLPattern | URLResolver]:
        """The application's own pages, then each stage's pages; the flow's other nodes
        (gateways, timers, functions, start and end) have none."""
        urls: list[URLPattern | URLResolver] = super(FlowAppViewset, self)._get_urls()
        flow = self._flow_class.instance
        self._flow_class.parent = self
        self._flow_class.app_name = None
        for node in flow.nodes():
            if not is_stage(node):
                continue
            node.parent = flow
            patterns, app_name, namespace = node.urls
            urls.append(path("", include((patterns, app_name), namespace=namespace)))
        # a flow's own pages (``pages()``: e.g. handing a side task over from a stage),
        # each going through the flow's services like the stages' pages do
        pages = getattr(flow, "pages", None)
        if pages is not None:
            urls.extend(pages())
        return urls

    def get_context_data(self, request: HttpRequest) -> dict[str, Any]:
        """The Work menu (viewflow's would count its own inbox and queue on every page)."""
        return work_menu(request)
