"""Lists come in pages of `limit` (at most 200) from `offset`."""

from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

# Far past any real list, and inside what a database OFFSET accepts.
MAX_OFFSET = 1_000_000_000


class Pagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 200

    def get_offset(self, request: Request) -> int:
        return min(super().get_offset(request), MAX_OFFSET)
