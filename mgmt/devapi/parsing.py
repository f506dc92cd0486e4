"""Request bodies: JSON only, bounded in size before a byte is parsed, strict about NaN."""

import json
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from mgmt.devapi.problems import PayloadTooLarge


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class BoundedJSONParser(JSONParser):
    """Refuses a body over TOLLGATE_API_MAX_BODY_BYTES with 413, reading at most one byte
    past the limit whatever the Content-Length says."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit: int = settings.TOLLGATE_API_MAX_BODY_BYTES
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"the body is over {limit:,} bytes")
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise PayloadTooLarge(f"the body is over {limit:,} bytes")
        try:
            return json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise ParseError(f"the body is not valid JSON: {exc}") from None
