"""The redaction of secrets in Django's request logs: what looks like a Tollgate key or token,
or an old mailed link's secret, never reaches a handler; everything else reads as before."""

import io
import logging
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.test import Client

from extauthz.keys import issue_key
from mgmt.developers.tokens import issue_access_token
from mgmt.log_redaction import REDACTED, redact

pytestmark = [pytest.mark.pure]


@pytest.fixture
def server_log() -> Iterator[io.StringIO]:
    """What runserver's request logger writes, through the filters LOGGING gave it."""
    logger = logging.getLogger("django.server")
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    logger.addHandler(handler)
    try:
        yield written
    finally:
        logger.removeHandler(handler)


def test_keys_and_access_tokens_in_a_request_line_are_redacted(server_log: io.StringIO) -> None:
    key, token = issue_key(), issue_access_token()
    line = f"GET /demo/hello?api_key={key.secret}&next=/x HTTP/1.1"
    logging.getLogger("django.server").info('"%s" %s %s', line, "200", "12")
    path_line = f"GET /api/v1/me/{token.secret} HTTP/1.1"
    logging.getLogger("django.server").info('"%s" %s %s', path_line, "404", "0")
    written = server_log.getvalue()
    assert key.secret not in written and token.secret not in written
    assert f"tg_{key.key_id}_{REDACTED}" not in written  # a query value goes whole
    assert f"api_key={REDACTED}&next=/x" in written
    assert f"/api/v1/me/tgp_{token.token_id}_{REDACTED} HTTP/1.1" in written
    assert '" 200 12' in written


@pytest.mark.parametrize(
    ("logged", "shown"),
    [
        ("GET /portal/verify/.eJy:1t:sig HTTP/1.1", f"GET /portal/verify/{REDACTED} HTTP/1.1"),
        ("GET /portal/invitations/abc_DEF-1 200", f"GET /portal/invitations/{REDACTED} 200"),
        ("GET /portal/password-reset/Mw/dj0-bb5b", f"GET /portal/password-reset/{REDACTED}"),
        ("POST /portal/invitations/accept HTTP/1.1", "POST /portal/invitations/accept HTTP/1.1"),
        ("GET /portal/password-reset/confirm 200", "GET /portal/password-reset/confirm 200"),
        ("GET /portal/verify HTTP/1.1", "GET /portal/verify HTTP/1.1"),
        ("GET /portal/signup?invitation=abc&x=1", f"GET /portal/signup?invitation={REDACTED}&x=1"),
        (
            "GET /x?access_token=a;code=b&page=2",
            f"GET /x?access_token={REDACTED};code={REDACTED}&page=2",
        ),
        ("GET /portal/catalog/demo?page=2 200", "GET /portal/catalog/demo?page=2 200"),
        ("a tg_ mention and tgp_ too", "a tg_ mention and tgp_ too"),
    ],
)
def test_what_is_redacted_and_what_is_left(logged: str, shown: str) -> None:
    assert redact(logged) == shown


def test_the_internal_token_is_redacted_wherever_it_shows() -> None:
    assert redact(f"Bearer {settings.TOLLGATE_INTERNAL_TOKEN}!") == f"Bearer {REDACTED}!"


def test_a_4xx_logged_by_django_request_has_no_key_in_its_path(
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = issue_key().secret
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = Client().get(f"/portal/nothing/{key}")
    assert response.status_code == 404
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    assert key not in record.getMessage() and REDACTED in record.getMessage()
