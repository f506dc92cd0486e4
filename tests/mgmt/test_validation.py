"""Invalid admin input is refused with an error on the field the owner has to fix."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.utils import timezone

from mgmt.gateway import validators
from mgmt.gateway.models import Api, ApiVersion, Endpoint, Route, Snapshot, Subscription, Upstream
from tests.mgmt import factories

pytestmark = [pytest.mark.db, pytest.mark.django_db]


def _errors(instance: Model) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        instance.full_clean()
    return caught.value.message_dict


def test_a_valid_route_passes_full_clean():
    route = factories.route(match_type=Route.MatchType.REGEX, path="^/items/[0-9]+$")
    route.full_clean()


def test_route_regex_that_re2_refuses_is_an_error_on_path_mentioning_re2():
    route = factories.route()
    route.match_type = Route.MatchType.REGEX
    route.path = "/(?=admin).*"
    errors = _errors(route)
    assert set(errors) == {"path"}
    assert "RE2" in " ".join(errors["path"])


def test_route_regex_without_leading_slash_is_an_error_on_path():
    route = factories.route()
    route.match_type = Route.MatchType.REGEX
    route.path = "items/.*"
    assert "path" in _errors(route)


@pytest.mark.parametrize("match_type", [Route.MatchType.PREFIX, Route.MatchType.EXACT])
def test_route_path_without_leading_slash_is_an_error_on_path(match_type):
    route = factories.route()
    route.match_type = match_type
    route.path = "items"
    errors = _errors(route)
    assert set(errors) == {"path"}
    assert "'/'" in " ".join(errors["path"])


@pytest.mark.parametrize("port", [0, 70000])
def test_endpoint_port_out_of_range_is_an_error_on_port(port):
    endpoint = Endpoint(upstream=factories.upstream(), host="127.0.0.1", port=port)
    assert set(_errors(endpoint)) == {"port"}


@pytest.mark.parametrize("port", [1, 65535])
def test_endpoint_port_at_the_bounds_is_accepted(port):
    Endpoint(upstream=factories.upstream(), host="127.0.0.1", port=port).full_clean()


def test_endpoint_wildcard_host_is_an_error_on_host():
    endpoint = Endpoint(upstream=factories.upstream(), host="*.example.com", port=80)
    errors = _errors(endpoint)
    assert set(errors) == {"host"}
    assert "wildcard" in " ".join(errors["host"])


def _unsaved_api(**kw) -> Api:
    product = factories.product()
    kw.setdefault("base_path", "/shop")
    return Api(organization=product.organization, product=product, name="Shop", slug="shop", **kw)


def test_same_hostname_twice_in_one_api_is_an_error_on_hostnames():
    errors = _errors(_unsaved_api(hostnames="a.com, a.com"))
    assert set(errors) == {"hostnames"}
    assert "twice" in " ".join(errors["hostnames"])


def test_second_api_with_same_hostname_and_base_path_is_an_error_on_hostnames():
    factories.api(hostnames="a.com\nb.com", base_path="/shop")
    errors = _errors(_unsaved_api(hostnames="b.com", base_path="/shop"))
    assert set(errors) == {"hostnames"}
    assert "b.com" in " ".join(errors["hostnames"])


def test_two_apis_without_hostnames_on_the_same_base_path_clash():
    factories.api(hostnames="", base_path="/shop")
    assert set(_errors(_unsaved_api(hostnames="", base_path="/shop"))) == {"hostnames"}


def test_same_hostname_on_another_base_path_is_accepted():
    factories.api(hostnames="a.com", base_path="/shop")
    _unsaved_api(hostnames="a.com", base_path="/store").full_clean()


def test_an_api_does_not_clash_with_itself_when_edited():
    api = factories.api(hostnames="a.com", base_path="/shop")
    api.description = "edited"
    api.full_clean()


def test_invalid_hostname_is_an_error_on_hostnames():
    errors = _errors(_unsaved_api(hostnames="Bad_Host"))
    assert set(errors) == {"hostnames"}
    assert "Bad_Host" in " ".join(errors["hostnames"])


def test_base_path_with_trailing_slash_is_an_error_on_base_path():
    errors = _errors(_unsaved_api(base_path="/shop/"))
    assert set(errors) == {"base_path"}


def test_unknown_http_method_is_an_error_on_methods():
    route = factories.route()
    route.methods = "GET,FETCH"
    errors = _errors(route)
    assert set(errors) == {"methods"}
    assert "FETCH" in " ".join(errors["methods"])


def test_known_http_methods_in_any_case_are_accepted():
    route = factories.route()
    route.methods = "get, Post\nDELETE"
    route.full_clean()


@pytest.mark.parametrize("timeout_ms", [5000, 6000])
def test_health_check_timeout_not_shorter_than_interval_is_an_error(timeout_ms):
    upstream = Upstream(
        organization=factories.organization(),
        name="checked",
        health_check_path="/healthz",
        health_check_interval_ms=5000,
        health_check_timeout_ms=timeout_ms,
    )
    assert set(_errors(upstream)) == {"health_check_timeout_ms"}


def test_health_check_timeout_shorter_than_interval_is_accepted():
    Upstream(
        organization=factories.organization(),
        name="checked",
        health_check_path="/healthz",
        health_check_interval_ms=5000,
        health_check_timeout_ms=4999,
    ).full_clean()


def test_successor_from_another_api_is_an_error_on_successor():
    version = factories.api_version(version="v1")
    elsewhere = factories.api_version(version="v2")
    version.successor = elsewhere
    errors = _errors(version)
    assert set(errors) == {"successor"}


def test_successor_of_the_same_api_is_accepted():
    version = factories.api_version(version="v1")
    version.successor = factories.api_version(api=version.api, version="v2")
    version.full_clean()


def test_sunset_before_deprecation_is_an_error_on_sunset_at():
    now = timezone.now()
    version = ApiVersion(
        api=factories.api(),
        version="v1",
        deprecated_at=now,
        sunset_at=now - timedelta(days=1),
    )
    assert set(_errors(version)) == {"sunset_at"}


def test_plan_of_another_product_is_an_error_on_plan():
    subscription = Subscription(
        application=factories.application(),
        product=factories.product(),
        plan=factories.plan(),
    )
    assert set(_errors(subscription)) == {"plan"}


def test_plan_of_the_same_product_is_accepted():
    plan = factories.plan()
    Subscription(application=factories.application(), product=plan.product, plan=plan).full_clean()


def _route_form(version, upstream, path):
    return {
        "api_version": version.pk,
        "match_type": "regex",
        "path": path,
        "methods": "",
        "upstream": upstream.pk,
        "timeout_ms": 15000,
        "position": 0,
        "cost": 1,
        "rate_limit_failure": "open",
    }


@pytest.mark.django_db(transaction=True)
def test_admin_add_route_with_re2_invalid_regex_shows_the_error_and_saves_nothing(admin_client):
    route = factories.catalog()  # committed: publishes the first snapshot
    assert factories.published()
    routes_before = Route.objects.count()
    snapshots_before = Snapshot.objects.count()

    response = admin_client.post(
        "/admin/gateway/route/add/", _route_form(route.api_version, route.upstream, "/(?=admin).*")
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors.keys() == {"path"}
    assert "Envoy&#x27;s RE2 refuses this pattern" in response.content.decode()
    assert Route.objects.count() == routes_before
    assert Snapshot.objects.count() == snapshots_before


@pytest.mark.django_db(transaction=True)
def test_admin_add_route_with_valid_regex_saves_it_and_publishes(admin_client):
    """The control for the test above: the same POST with a good pattern is accepted."""
    route = factories.catalog()
    snapshots_before = Snapshot.objects.count()

    response = admin_client.post(
        "/admin/gateway/route/add/", _route_form(route.api_version, route.upstream, "/items/[0-9]+")
    )

    assert response.status_code == 302
    assert Route.objects.filter(path="/items/[0-9]+").exists()
    assert Snapshot.objects.count() == snapshots_before + 1
    assert Snapshot.objects.latest().status == Snapshot.Status.PUBLISHED


@pytest.mark.parametrize(
    ("validator", "value"),
    [
        (validators.validate_path, "/foo\n"),
        (validators.validate_slug, "abc\n"),
        (validators.validate_hostname, "example.com\n"),
    ],
)
def test_a_trailing_newline_is_refused_even_outside_the_admin_form(validator, value):
    with pytest.raises(ValidationError):
        validator(value)
