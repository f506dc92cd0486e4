"""Token issuers and client certificates in the compiled snapshot: jwt_authn's providers and
per-API requirements, the headers it hands the sidecar, JWKS clusters, route contexts, and
the fingerprints HTTPS accepts (an SDS secret of their own)."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from envoy.extensions.filters.http.header_mutation.v3 import header_mutation_pb2
from envoy.extensions.filters.http.jwt_authn.v3 import config_pb2 as jwt_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2

from extauthz.caller_ids import TOKEN_ERROR_HEADER, certificate_id, token_client_id
from extauthz.route_context import RouteContext
from extauthz.store import Store
from mgmt.compiler import tls
from mgmt.compiler.compile import compile_snapshot
from mgmt.compiler.inputs import (
    ClientCertificateRow,
    GatewaySettings,
    TokenClientRow,
    TokenIssuerRow,
)
from mgmt.compiler.sidecar_resources import credential_shards
from mgmt.compiler.tls import HTTPS_LISTENER_NAME
from protos.tollgate.v1 import resources_pb2
from tests.mgmt.compiler_rows import demo_rows
from tests.mgmt.test_compiler_tls import cert
from xds_server import type_urls
from xds_server.snapshot import Snapshot

pytestmark = pytest.mark.pure

JWKS = json.dumps({"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "kid": "k1"}]})
IDP = TokenIssuerRow(
    name="idp",
    issuer="https://idp.example",
    audiences=("gateway", "api"),
    jwks_uri="https://idp.example:8443/keys",
    algorithms=("RS256",),
    leeway_seconds=30,
    client_claims=("azp", "client_id"),
    jwks_cache_seconds=120,
    api_ids=(1,),
)
TOLLGATE = TokenIssuerRow(
    name="tollgate",
    issuer="http://localhost:8000/oauth",
    audiences=("tollgate-gateway",),
    jwks_json=JWKS,
    algorithms=("ES256",),
    client_claims=("client_id",),
    every_api=True,
)
GATEWAY = GatewaySettings(https_port=10443)


def _snapshot(gateway: GatewaySettings = GATEWAY, **changes: object) -> Snapshot:
    rows = dataclasses.replace(demo_rows(), **changes)  # type: ignore[arg-type]
    result = compile_snapshot(rows, gateway)
    assert result.snapshot is not None, result.errors
    return Snapshot.from_proto(result.snapshot)


def _errors(**changes: object) -> tuple[str, ...]:
    rows = dataclasses.replace(demo_rows(), **changes)  # type: ignore[arg-type]
    return compile_snapshot(rows, GATEWAY).errors


def _manager(snap: Snapshot, name: str = "gateway") -> hcm_pb2.HttpConnectionManager:
    listener = listener_pb2.Listener()
    listener.ParseFromString(snap.resources(type_urls.LISTENER)[name].value)
    manager = hcm_pb2.HttpConnectionManager()
    listener.filter_chains[0].filters[0].typed_config.Unpack(manager)
    return manager


def _jwt(snap: Snapshot) -> jwt_pb2.JwtAuthentication:
    (config,) = [f for f in _manager(snap).http_filters if f.name == "envoy.filters.http.jwt_authn"]
    jwt = jwt_pb2.JwtAuthentication()
    config.typed_config.Unpack(jwt)
    return jwt


def _routes(snap: Snapshot) -> list[route_pb2.Route]:  # type: ignore[name-defined]
    config = route_pb2.RouteConfiguration()
    config.ParseFromString(snap.resources(type_urls.ROUTE)["gateway_routes"].value)
    return [r for vh in config.virtual_hosts for r in vh.routes if r.name.startswith("route.")]


def test_without_issuers_there_is_no_jwt_filter_and_no_token_context() -> None:
    snap = _snapshot()
    names = [f.name for f in _manager(snap).http_filters]
    assert "envoy.filters.http.jwt_authn" not in names
    assert "tollgate.token_error" not in names
    for route in _routes(snap):
        assert "envoy.filters.http.jwt_authn" not in route.typed_per_filter_config


def test_jwt_authn_runs_after_the_strip_and_before_the_sidecar_with_its_reason_in_between() -> None:
    snap = _snapshot(token_issuers=(IDP,))
    assert [f.name for f in _manager(snap).http_filters] == [
        "tollgate.route_identity.strip",
        "envoy.filters.http.jwt_authn",
        "tollgate.token_error",
        "tollgate.route_identity",
        "envoy.filters.http.ext_authz",
        "envoy.filters.http.router",
    ]
    (error_filter,) = [f for f in _manager(snap).http_filters if f.name == "tollgate.token_error"]
    mutation = header_mutation_pb2.HeaderMutation()
    error_filter.typed_config.Unpack(mutation)
    # Why it refused; or the alg and kid of the header it verified (the sidecar checks those,
    # never a header it would pick out of the request itself).
    assert [
        (m.append.header.key, m.append.header.value) for m in mutation.mutations.request_mutations
    ] == [
        (
            TOKEN_ERROR_HEADER,
            "%DYNAMIC_METADATA(envoy.filters.http.jwt_authn:jwt_failure:message)%",
        ),
        ("x-tollgate-token-alg", "%DYNAMIC_METADATA(envoy.filters.http.jwt_authn:jwt_header:alg)%"),
        ("x-tollgate-token-kid", "%DYNAMIC_METADATA(envoy.filters.http.jwt_authn:jwt_header:kid)%"),
    ]


def test_each_issuer_is_a_provider_checking_exactly_what_rfc_8725_asks_of_jwt_authn() -> None:
    provider = _jwt(_snapshot(token_issuers=(IDP,))).providers["idp"]
    assert (provider.issuer, list(provider.audiences)) == (
        "https://idp.example",
        ["gateway", "api"],
    )
    assert provider.require_expiration
    assert provider.clock_skew_seconds == 30
    # Only the Authorization header: never ?access_token= (jwt_authn's default), which is logged.
    assert [(h.name, h.value_prefix) for h in provider.from_headers] == [
        ("Authorization", "Bearer ")
    ]
    assert not provider.from_params
    assert provider.failed_status_in_metadata == "jwt_failure"
    assert provider.header_in_metadata == "jwt_header"
    assert [(c.claim_name, c.header_name) for c in provider.claim_to_headers] == [
        ("iss", "x-tollgate-token-issuer"),
        ("azp", "x-tollgate-token-client-0"),
        ("client_id", "x-tollgate-token-client-1"),
        ("scope", "x-tollgate-token-scope"),
    ]
    remote = provider.remote_jwks
    assert (remote.http_uri.uri, remote.http_uri.cluster) == (IDP.jwks_uri, "jwks.idp")
    assert remote.cache_duration.seconds == 120
    assert remote.async_fetch.fast_listener


def test_an_inline_jwks_is_served_as_is_and_needs_no_cluster() -> None:
    snap = _snapshot(token_issuers=(TOLLGATE,))
    provider = _jwt(snap).providers["tollgate"]
    assert provider.local_jwks.inline_string == JWKS
    assert not [n for n in snap.resources(type_urls.CLUSTER) if n.startswith("jwks.")]


def test_a_remote_jwks_gets_a_cluster_of_its_own_over_tls_with_sni() -> None:
    snap = _snapshot(token_issuers=(IDP,))
    cluster = cluster_pb2.Cluster()
    cluster.ParseFromString(snap.resources(type_urls.CLUSTER)["jwks.idp"].value)
    assert cluster.type == cluster_pb2.Cluster.STRICT_DNS
    address = cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address
    assert (address.socket_address.address, address.socket_address.port_value) == (
        "idp.example",
        8443,
    )
    context = tls_pb2.UpstreamTlsContext()
    cluster.transport_socket.typed_config.Unpack(context)
    assert context.sni == "idp.example"
    loopback = dataclasses.replace(IDP, jwks_uri="http://127.0.0.1:9000/jwks")
    cluster.ParseFromString(
        _snapshot(token_issuers=(loopback,)).resources(type_urls.CLUSTER)["jwks.idp"].value
    )
    assert cluster.type == cluster_pb2.Cluster.STATIC
    assert not cluster.HasField("transport_socket")


def test_each_api_that_accepts_tokens_requires_any_of_its_issuers_or_lets_the_sidecar_decide() -> (
    None
):
    jwt = _jwt(_snapshot(token_issuers=(IDP, TOLLGATE)))
    requirement = jwt.requirement_map["api.1"].requires_any.requirements
    assert [r.provider_name for r in requirement[:-1]] == ["idp", "tollgate"]
    # jwt_authn never refuses on its own: a key may be a bearer too, and the sidecar decides.
    assert requirement[-1].HasField("allow_missing_or_failed")
    per_route = jwt_pb2.PerRouteConfig()
    for route in _routes(_snapshot(token_issuers=(IDP,))):
        route.typed_per_filter_config["envoy.filters.http.jwt_authn"].Unpack(per_route)
        assert per_route.requirement_name == "api.1"


def test_an_api_no_issuer_lists_verifies_no_token_and_its_routes_carry_no_policy() -> None:
    other = dataclasses.replace(IDP, api_ids=(99,))
    snap = _snapshot(token_issuers=(other,))
    assert "api.1" not in _jwt(snap).requirement_map
    for route in _routes(snap):
        assert "envoy.filters.http.jwt_authn" not in route.typed_per_filter_config


def test_the_route_context_carries_its_apis_issuer_policies_and_its_scopes() -> None:
    rows = demo_rows()
    scoped = tuple(
        dataclasses.replace(r, scopes=("orders:read", "orders:write")) for r in rows.routes
    )
    snap = _snapshot(token_issuers=(IDP, TOLLGATE), routes=scoped)
    header = header_mutation_pb2.HeaderMutationPerRoute()
    route = _routes(snap)[0]
    route.typed_per_filter_config["tollgate.route_identity"].Unpack(header)
    context = json.loads(header.mutations.request_mutations[0].append.header.value)
    parsed = RouteContext.of(context)
    assert parsed is not None
    assert parsed.scopes == ("orders:read", "orders:write")
    idp = parsed.token_policies["https://idp.example"]
    assert (idp.algorithms, idp.kid_required, idp.client_headers) == (frozenset({"RS256"}), True, 2)
    # One key inline: a token need not name it.
    own = parsed.token_policies["http://localhost:8000/oauth"]
    assert (own.algorithms, own.kid_required, own.client_headers) == (
        frozenset({"ES256"}),
        False,
        1,
    )


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"algorithms": ("HS256",)}, "refused: HS256"),
        ({"algorithms": ("none",)}, "refused: none"),
        ({"algorithms": ()}, "none given"),
        ({"audiences": ()}, "at least one audience"),
        ({"jwks_uri": ""}, "exactly one"),
        ({"jwks_json": JWKS}, "exactly one"),
        ({"jwks_uri": "ftp://idp.example/keys"}, "not an http(s) URL"),
        ({"jwks_uri": "https://idp.example:99999/keys"}, "bad port"),
        ({"leeway_seconds": 301}, "outside 0..300"),
        ({"client_claims": ()}, "client claims"),
        ({"client_claims": ("a", "b", "c", "d")}, "client claims"),
    ],
)
def test_a_bad_issuer_is_refused_before_envoy_sees_it(change: dict[str, object], says: str) -> None:
    errors = _errors(token_issuers=(dataclasses.replace(IDP, **change),))  # type: ignore[arg-type]
    assert any(says in e and '"idp"' in e for e in errors), errors


@pytest.mark.parametrize(
    ("jwks", "says"),
    [("not json", "not JSON"), ('{"keys": []}', 'no "keys"'), ("[1]", 'no "keys"')],
)
def test_a_bad_inline_jwks_is_refused(jwks: str, says: str) -> None:
    errors = _errors(token_issuers=(dataclasses.replace(TOLLGATE, jwks_json=jwks),))
    assert any(says in e for e in errors), errors


def test_two_issuers_of_one_name_or_one_iss_are_refused() -> None:
    twin = dataclasses.replace(TOLLGATE, issuer=IDP.issuer)
    assert any("configured twice" in e for e in _errors(token_issuers=(IDP, twin)))
    same_name = dataclasses.replace(TOLLGATE, name="idp")
    assert any("used twice" in e for e in _errors(token_issuers=(IDP, same_name)))


def test_a_route_scope_that_is_no_scope_token_is_refused() -> None:
    routes = tuple(dataclasses.replace(r, scopes=('say "hi"',)) for r in demo_rows().routes)
    assert any("scope token" in e for e in _errors(routes=routes))


def test_token_clients_and_certificates_land_in_the_shards_the_sidecar_looks_in() -> None:
    fingerprint = hashlib.sha256(b"der").digest()
    rows = dataclasses.replace(
        demo_rows(),
        token_clients=tuple(TokenClientRow(IDP.issuer, f"client-{i}", 1) for i in range(50)),
        client_certificates=(ClientCertificateRow(fingerprint, 1, expires_at=5),),
    )
    store = Store()
    store.replace_credential_shards(s.SerializeToString() for s in credential_shards(rows))
    store.replace_application_shards([])
    snapshot = store.snapshot
    assert snapshot is not None
    for i in range(50):
        assert snapshot.credential(token_client_id(IDP.issuer, f"client-{i}")) is not None
    assert snapshot.credential(certificate_id(fingerprint.hex())) is not None
    assert snapshot.credential(token_client_id(IDP.issuer, "client-50")) is None


def _https_chain_context(snap: Snapshot) -> tls_pb2.DownstreamTlsContext:
    listener = listener_pb2.Listener()
    listener.ParseFromString(snap.resources(type_urls.LISTENER)[HTTPS_LISTENER_NAME].value)
    context = tls_pb2.DownstreamTlsContext()
    listener.default_filter_chain.transport_socket.typed_config.Unpack(context)
    return context


def test_registered_client_certificates_are_asked_for_and_any_is_let_through_to_the_decision() -> (
    None
):
    active = ClientCertificateRow(hashlib.sha256(b"a").digest(), 1)
    snap = _snapshot(certificates=(cert("gw", "api.example.com"),), client_certificates=(active,))
    context = _https_chain_context(snap)
    validation = context.common_tls_context.validation_context
    # No CA and no fingerprint list at the handshake: Envoy would then refuse clients that
    # send no certificate. The decision admits registered fingerprints only.
    assert validation.trust_chain_verification == validation.ACCEPT_UNTRUSTED
    assert not validation.HasField("trusted_ca")
    assert not list(validation.verify_certificate_hash)
    # Keys and tokens still work over HTTPS without a certificate.
    assert context.require_client_certificate.value is False
    assert tls.accepted_client_certificates(
        (active, ClientCertificateRow(hashlib.sha256(b"b").digest(), 1, revoked_at=10))
    ) == [active.fingerprint_sha256.hex()]


def test_without_registered_certificates_https_asks_for_none() -> None:
    revoked = ClientCertificateRow(hashlib.sha256(b"b").digest(), 1, revoked_at=10)
    snap = _snapshot(certificates=(cert("gw", "api.example.com"),), client_certificates=(revoked,))
    context = _https_chain_context(snap)
    assert not context.common_tls_context.HasField("validation_context")


def test_a_plans_scopes_reach_its_subscribers_grants_and_bad_ones_are_refused() -> None:
    rows = demo_rows()
    plans = tuple(dataclasses.replace(p, scopes=("orders:read", "a:b")) for p in rows.plans)
    snap = _snapshot(plans=plans)
    (shard,) = [
        s
        for s in (
            resources_pb2.ApplicationShard.FromString(body.value)
            for body in snap.resources(type_urls.APPLICATION_SHARD).values()
        )
        if s.applications
    ]
    (grant,) = shard.applications[0].grants
    assert list(grant.scopes) == ["a:b", "orders:read"]
    bad = tuple(dataclasses.replace(p, scopes=("no\\quote",)) for p in rows.plans)
    assert any("plan" in e and "scope token" in e for e in _errors(plans=bad))
