"""The developer API's own OpenAPI document as /api/v1/schema serves it, and the Swagger UI
and Redoc pages that render it with no asset from another host."""

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client
from openapi_spec_validator.shortcuts import get_validator_cls

# Only Django's test client and the schema generator: no query is made.
pytestmark = [pytest.mark.pure]

OPENAPI_JSON = "application/vnd.oai.openapi+json"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Anyone may call these: they are how a caller gets credentials in the first place.
PUBLIC = {
    ("post", "/api/v1/auth/signup"),
    ("post", "/api/v1/auth/verify-email"),
    ("post", "/api/v1/auth/resend-verification"),
    ("post", "/api/v1/auth/password-reset"),
    ("post", "/api/v1/auth/password-reset/confirm"),
    ("post", "/api/v1/auth/session"),
    ("post", "/api/v1/auth/tokens"),
}
# RFC 9457's members that every problem of ours carries.
PROBLEM_MEMBERS = {"type", "title", "status", "detail"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    response = Client().get("/api/v1/schema", HTTP_ACCEPT=OPENAPI_JSON)
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith(OPENAPI_JSON)
    loaded: dict[str, Any] = json.loads(response.content)
    return loaded


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def named(method: str, path: str) -> str:
    return f"{method.upper()} {path}"


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A local $ref followed to its target (the document's refs are all #/components/...)."""
    while "$ref" in schema:
        target: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = target
    return schema


def test_the_schema_is_json_by_format_parameter_or_by_accept_header(document: dict[str, Any]):
    by_format = Client().get("/api/v1/schema", {"format": "json"})
    assert by_format.status_code == 200
    assert by_format["Content-Type"].startswith(OPENAPI_JSON)
    assert json.loads(by_format.content) == document


def locations(document: Any, part: Any, pointer: str = "#") -> list[str]:
    """JSON pointers of every place `part` occurs in the document: the validator's errors
    about a schema's default carry the schema, not its location."""
    if document == part:
        return [pointer]
    if isinstance(document, dict):
        items: Any = document.items()
    elif isinstance(document, list):
        items = enumerate(document)
    else:
        return []
    return [found for key, value in items for found in locations(value, part, f"{pointer}/{key}")]


def test_the_schema_is_a_valid_openapi_3_document(document: dict[str, Any]):
    assert document["openapi"].startswith("3.")
    validator = get_validator_cls(document)(document)
    errors = [
        f"{error.message} in {error.schema!r} at {locations(document, error.schema) or '?'}"
        for error in validator.iter_errors()
    ]
    assert not errors, "the served schema is not valid OpenAPI:\n" + "\n".join(errors)


def test_every_path_is_under_api_v1(document: dict[str, Any]):
    assert document["paths"], "the schema documents no path"
    outside = [path for path in document["paths"] if not path.startswith("/api/v1/")]
    assert not outside, f"paths outside /api/v1/: {outside}"


def test_every_operation_has_a_summary_and_a_description(document: dict[str, Any]):
    undocumented = [
        f"{named(method, path)}: no {field}"
        for method, path, operation in operations(document)
        for field in ("summary", "description")
        if not str(operation.get(field, "")).strip()
    ]
    assert not undocumented, "\n".join(undocumented)


def test_every_operation_documents_a_success(document: dict[str, Any]):
    without = [
        named(method, path)
        for method, path, operation in operations(document)
        if not any(code.startswith("2") for code in operation.get("responses", {}))
    ]
    assert not without, f"operations with no 2xx response: {without}"


def _client_errors(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (named(method, path), code, resolve(document, response))
        for method, path, operation in operations(document)
        for code, response in operation.get("responses", {}).items()
        if code.startswith("4")
    ]


def test_every_documented_4xx_has_the_problem_schema(document: dict[str, Any]):
    errors = _client_errors(document)
    assert errors, "the schema documents no 4xx response"
    wrong = []
    for operation, code, response in errors:
        bodies = response.get("content", {})
        if not bodies:
            wrong.append(f"{operation} {code}: no body documented")
        for media_type, body in bodies.items():
            schema = resolve(document, body.get("schema", {}))
            if missing := PROBLEM_MEMBERS - set(schema.get("required", [])):
                wrong.append(f"{operation} {code} {media_type}: lacks {sorted(missing)}")
    assert not wrong, "4xx responses that are not problems:\n" + "\n".join(wrong)


def test_every_documented_4xx_is_application_problem_json(document: dict[str, Any]):
    # The server answers every refusal as application/problem+json (RFC 9457); a client
    # generated from the schema must be told that media type, not application/json.
    wrong: dict[str, list[str]] = {}
    for operation, code, response in _client_errors(document):
        media_types = sorted(response.get("content", {}))
        if media_types != ["application/problem+json"]:
            wrong.setdefault(f"{operation}: {media_types}", []).append(code)
    assert not wrong, "4xx media types:\n" + "\n".join(f"{k} for {v}" for k, v in wrong.items())


def test_every_operation_but_the_public_ones_requires_credentials(document: dict[str, Any]):
    schemes = set(document.get("components", {}).get("securitySchemes", {}))
    assert schemes, "the schema defines no security scheme"
    wrong = []
    for method, path, operation in operations(document):
        if (method, path) in PUBLIC:
            continue
        requirements = operation.get("security", document.get("security", []))
        if not requirements:
            wrong.append(f"{named(method, path)}: no security requirement")
        elif {} in requirements:
            wrong.append(f"{named(method, path)}: callable without credentials")
        elif unknown := {name for r in requirements for name in r} - schemes:
            wrong.append(f"{named(method, path)}: undefined schemes {sorted(unknown)}")
    assert not wrong, "\n".join(wrong)


def test_the_public_operations_are_documented_as_callable_without_credentials(
    document: dict[str, Any],
):
    found = {(method, path): op for method, path, op in operations(document)}
    assert set(found) >= PUBLIC, f"public operations missing: {sorted(PUBLIC - set(found))}"
    wrong = [
        named(method, path)
        for method, path in sorted(PUBLIC)
        if {} not in found[(method, path)].get("security", document.get("security", [{}]))
    ]
    assert not wrong, f"public operations documented as needing credentials: {wrong}"


class _Assets(HTMLParser):
    """Every URL a page makes the browser fetch by itself: script src and link href."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.urls.append(value)


def _page_assets(url: str) -> tuple[str, list[str]]:
    response = Client().get(url)
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    parser = _Assets()
    parser.feed(html)
    return html, parser.urls


DOCS_PAGES = ["/api/v1/docs", "/api/v1/redoc"]


@pytest.mark.parametrize("url", DOCS_PAGES)
def test_the_docs_page_loads_nothing_from_another_host(url: str):
    html, assets = _page_assets(url)
    assert assets, f"{url} references no asset"
    foreign = [a for a in assets if urlsplit(a).netloc or urlsplit(a).scheme]
    assert not foreign, f"{url} loads from other hosts: {foreign}"
    assert "/api/v1/schema" in html, f"{url} does not render our schema"


@pytest.mark.parametrize("url", DOCS_PAGES)
def test_the_docs_page_assets_are_static_files_that_exist(url: str):
    # mgmt.urls has no static route: runserver serves STATIC_URL through the staticfiles
    # finders, production from collectstatic's STATIC_ROOT. Django's test client gets a 404
    # for either, so the finders (what both read from) must find every asset.
    _, assets = _page_assets(url)
    static_url = "/" + settings.STATIC_URL.lstrip("/")
    local = [a for a in assets if not urlsplit(a).netloc and not urlsplit(a).scheme]
    assert local, f"{url} references no same-origin asset"
    wrong = []
    for asset in local:
        path = urlsplit(asset).path
        if not path.startswith(static_url):
            wrong.append(f"{asset}: not under {static_url}")
            continue
        found = finders.find(path.removeprefix(static_url))
        if not found:
            wrong.append(f"{asset}: no such static file")
        elif not Path(found).stat().st_size:
            wrong.append(f"{asset}: empty file {found}")
    assert not wrong, "\n".join(wrong)
