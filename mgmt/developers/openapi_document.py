"""Parses and checks an API owner's OpenAPI document (JSON or YAML) before it is stored."""

import hashlib
from collections import OrderedDict
from typing import Any

import yaml
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

MAX_DOCUMENT_BYTES = 2 * 1024 * 1024


class OpenApiDocumentError(ValueError):
    """The document cannot be shown to partners; the message says why, for the owner."""


def load_stored_document(text: str) -> dict[str, Any]:
    """The text as a mapping, with no schema check: how a document checked on upload is
    served (a check costs seconds of CPU on 2 MiB), and the first step of that check.
    JSON is YAML; a safe loader builds no Python objects from tags, the C one where built."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        document = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader either way
    except yaml.YAMLError as exc:
        raise OpenApiDocumentError(f"not JSON or YAML: {exc}") from None
    if not isinstance(document, dict):
        raise OpenApiDocumentError("an OpenAPI document is a mapping with openapi, info and paths")
    return document


# Digests of documents that passed the schema check lately. An admin upload is checked by
# its form and then by the model field's validator in the same request; on a 2 MiB
# document each check costs seconds, so the second one is remembered, not redone.
_RECENTLY_VALID: "OrderedDict[bytes, None]" = OrderedDict()
_REMEMBERED = 8


def parse_openapi_document(text: str) -> dict[str, Any]:
    """The document as a mapping, or OpenApiDocumentError naming the first problem."""
    encoded = text.encode("utf-8", "surrogateescape")
    if len(encoded) > MAX_DOCUMENT_BYTES:
        raise OpenApiDocumentError(
            f"the document is larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB"
        )
    document = load_stored_document(text)
    version = str(document.get("openapi", ""))
    if not version.startswith("3."):
        raise OpenApiDocumentError(
            "only OpenAPI 3.x documents are shown (the 'openapi' field must be 3.0 or 3.1)"
        )
    digest = hashlib.sha256(encoded).digest()
    if digest in _RECENTLY_VALID:
        return document
    try:
        validate(document)
    except OpenAPIValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "the document"
        raise OpenApiDocumentError(
            f"not a valid OpenAPI {version} document at {where}: {exc.message}"
        ) from None
    _RECENTLY_VALID[digest] = None
    while len(_RECENTLY_VALID) > _REMEMBERED:
        _RECENTLY_VALID.popitem(last=False)
    return document
