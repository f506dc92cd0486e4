"""Parses and checks an API owner's OpenAPI document (JSON or YAML) before it is stored."""

from typing import Any

import yaml
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

MAX_DOCUMENT_BYTES = 2 * 1024 * 1024


class OpenApiDocumentError(ValueError):
    """The document cannot be shown to partners; the message says why, for the owner."""


def load_stored_document(text: str) -> dict[str, Any]:
    """A document checked on upload, loaded to be served: no second validation (on a 2 MiB
    document that costs seconds of CPU per call), the C loader where there is one."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        document = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader either way
    except yaml.YAMLError as exc:
        raise OpenApiDocumentError(f"not JSON or YAML: {exc}") from None
    if not isinstance(document, dict):
        raise OpenApiDocumentError("an OpenAPI document is a mapping with openapi, info and paths")
    return document


def parse_openapi_document(text: str) -> dict[str, Any]:
    """The document as a mapping, or OpenApiDocumentError naming the first problem."""
    if len(text.encode("utf-8", "surrogateescape")) > MAX_DOCUMENT_BYTES:
        raise OpenApiDocumentError(
            f"the document is larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB"
        )
    try:
        # JSON is YAML; safe_load builds no Python objects from tags.
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise OpenApiDocumentError(f"not JSON or YAML: {exc}") from None
    if not isinstance(document, dict):
        raise OpenApiDocumentError("an OpenAPI document is a mapping with openapi, info and paths")
    version = str(document.get("openapi", ""))
    if not version.startswith("3."):
        raise OpenApiDocumentError(
            "only OpenAPI 3.x documents are shown (the 'openapi' field must be 3.0 or 3.1)"
        )
    try:
        validate(document)
    except OpenAPIValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "the document"
        raise OpenApiDocumentError(
            f"not a valid OpenAPI {version} document at {where}: {exc.message}"
        ) from None
    return document
