"""Pages of a timeline by cursor: DRF's ``CursorPagination`` over ``timeline.Timeline``,
for the API and the page alike. A cursor keeps its place however much is added on top
(new mail arrives while someone reads), and asks for no count of the whole history."""

from __future__ import annotations

from rest_framework.pagination import CursorPagination


class TimelinePages(CursorPagination):
    ordering = ("-at",)
    page_size = 25
    page_size_query_param = "limit"
    max_page_size = 100
