"""Pages of API lists: ``?limit=&offset=``, bounded so no value reaches the database as an
out-of-range LIMIT or OFFSET (schemathesis found the 500 that DRF's unbounded default
gives for ``limit=10**25``)."""

from typing import Any

from rest_framework.pagination import LimitOffsetPagination

MAX_OFFSET = 10**9


class Pages(LimitOffsetPagination):
    default_limit = 50
    max_limit = 200

    def get_offset(self, request: Any) -> int:
        offset: int = super().get_offset(request)
        return min(offset, MAX_OFFSET)
