"""Bearer tokens at the gateway: Envoy's jwt_authn verifies them (C++, with JWKS fetching and
caching), the one decision maps the verified claims to an application.

Each accepted issuer is a jwt_authn provider: signature against its JWKS, `exp` required,
`exp`/`nbf` within its leeway, `iss` and `aud` exact. Each API that accepts tokens is a
requirement (any of its issuers' providers, or none): jwt_authn never refuses on its own
(`allow_missing_or_failed`), because an API key may travel as a bearer too. It hands the
verified claims on as headers (claim_to_headers: issuer, client, scope) and, for a token it
refused, its reason through dynamic metadata (failed_status_in_metadata), which a header
mutation after it copies into TOKEN_ERROR_HEADER. The sidecar then decides, once.

Tokens come from `Authorization: Bearer` only, never a query parameter (jwt_authn's default
also reads `?access_token=`, which ends up in logs).
"""

import json
import re
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.common.mutation_rules.v3 import mutation_rules_pb2
from envoy.config.core.v3 import base_pb2, http_uri_pb2
from envoy.extensions.filters.http.header_mutation.v3 import header_mutation_pb2
from envoy.extensions.filters.http.jwt_authn.v3 import config_pb2 as jwt_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm_pb2,
)
from google.protobuf import any_pb2, empty_pb2

from extauthz.caller_ids import (
    TOKEN_ALG_HEADER,
    TOKEN_CLIENT_HEADERS,
    TOKEN_ERROR_HEADER,
    TOKEN_ISSUER_HEADER,
    TOKEN_KID_HEADER,
    TOKEN_SCOPE_HEADER,
)
from extauthz.route_context import TokenPolicy, token_policies_value
from mgmt.compiler import clusters
from mgmt.compiler.durations import ms
from mgmt.compiler.inputs import EndpointRow, GatewaySettings, TokenIssuerRow, UpstreamRow
from mgmt.compiler.inputs import UpstreamTlsRow as TlsRow
from mgmt.compiler.packing import packed

JWT_FILTER = "envoy.filters.http.jwt_authn"
# The provider name of Tollgate's own authorization server (mgmt.oauth): reserved.
OWN_ISSUER_NAME = "tollgate"
TOKEN_ERROR_FILTER = "tollgate.token_error"  # noqa: S105 (a filter name)
# jwt_authn's metadata keys: a refused token's status ({code, message}), a verified one's
# JOSE header.
_FAILURE_KEY = "jwt_failure"
_HEADER_KEY = "jwt_header"
JWKS_FETCH_TIMEOUT_MS = 5_000
# Verified tokens jwt_authn remembers per worker (until they expire): a caller sends the
# same token many times, and a signature check costs more than the whole rest of a request.
JWT_CACHE_SIZE = 4096
# RFC 8725 §3.1: algorithms named, never inferred; none of "none" or HS* (a shared secret
# cannot be published to a gateway).
ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"}
)
MAX_JWKS_BYTES = 65_536
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), no quote or backslash (a scope
# is quoted in a WWW-Authenticate challenge); bounded.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,128}")


def is_scope_token(value: str) -> bool:
    return _SCOPE_TOKEN.fullmatch(value) is not None


def requirement_name(api_id: int) -> str:
    return f"api.{api_id}"


def jwks_cluster_name(issuer: TokenIssuerRow) -> str:
    return f"jwks.{issuer.name}"


def issuers_of(api_id: int, issuers: Sequence[TokenIssuerRow]) -> list[TokenIssuerRow]:
    return [i for i in issuers if i.every_api or api_id in i.api_ids]


def kid_required(issuer: TokenIssuerRow) -> bool:
    """RFC 8725 §3.10 asks a token to name its key when there is a choice: always for a
    remote JWKS (it may grow at any time), for an inline one when it holds several keys."""
    if issuer.jwks_uri:
        return True
    try:
        keys = json.loads(issuer.jwks_json).get("keys", [])
    except (ValueError, AttributeError):
        return True
    return not isinstance(keys, list) or len(keys) > 1


def route_tokens_context(api_id: int, issuers: Sequence[TokenIssuerRow]) -> dict[str, str]:
    """The `tokens` entry of a route's context: its API's issuers' policies (none: no entry)."""
    policies = {
        i.issuer: TokenPolicy(
            frozenset(i.algorithms), kid_required(i), min(len(i.client_claims), 3)
        )
        for i in issuers_of(api_id, issuers)
    }
    return {"tokens": token_policies_value(policies)} if policies else {}


def _provider(issuer: TokenIssuerRow) -> jwt_pb2.JwtProvider:
    claims = [jwt_pb2.JwtClaimToHeader(header_name=TOKEN_ISSUER_HEADER, claim_name="iss")]
    claims.extend(
        jwt_pb2.JwtClaimToHeader(header_name=header, claim_name=claim)
        for header, claim in zip(TOKEN_CLIENT_HEADERS, issuer.client_claims, strict=False)
    )
    claims.append(jwt_pb2.JwtClaimToHeader(header_name=TOKEN_SCOPE_HEADER, claim_name="scope"))
    provider = jwt_pb2.JwtProvider(
        issuer=issuer.issuer,
        audiences=list(issuer.audiences),
        require_expiration=True,
        clock_skew_seconds=issuer.leeway_seconds,
        # Kept for the sidecar to read the JOSE header; it removes the Authorization header
        # before the request goes upstream, as it does a key's.
        forward=True,
        from_headers=[jwt_pb2.JwtHeader(name="Authorization", value_prefix="Bearer ")],
        failed_status_in_metadata=_FAILURE_KEY,
        header_in_metadata=_HEADER_KEY,
        claim_to_headers=claims,
        jwt_cache_config=jwt_pb2.JwtCacheConfig(jwt_cache_size=JWT_CACHE_SIZE),
    )
    if issuer.jwks_uri:
        provider.remote_jwks.CopyFrom(
            jwt_pb2.RemoteJwks(
                http_uri=http_uri_pb2.HttpUri(
                    uri=issuer.jwks_uri,
                    cluster=jwks_cluster_name(issuer),
                    timeout=ms(JWKS_FETCH_TIMEOUT_MS),
                ),
                cache_duration=ms(issuer.jwks_cache_seconds * 1000),
                # Fetched in the background and refreshed before it expires; a failed
                # refresh keeps the last good JWKS and is retried (failed_refetch_duration).
                # The listener does not wait for the first fetch: config stays live at once.
                async_fetch=jwt_pb2.JwksAsyncFetch(
                    fast_listener=True, failed_refetch_duration=ms(1000)
                ),
            )
        )
    else:
        provider.local_jwks.CopyFrom(base_pb2.DataSource(inline_string=issuer.jwks_json))
    return provider


def jwt_filter(
    issuers: Sequence[TokenIssuerRow], api_ids: Iterable[int]
) -> hcm_pb2.HttpFilter | None:
    """jwt_authn with a provider per issuer and a requirement per API that accepts tokens;
    None when no issuer is configured (the filter then costs nothing)."""
    if not issuers:
        return None
    config = jwt_pb2.JwtAuthentication(
        providers={i.name: _provider(i) for i in issuers},
        # Its own 401s never go out (we never let it refuse), but keep none of its detail.
        strip_failure_response=True,
    )
    for api_id in sorted(set(api_ids)):
        accepted = issuers_of(api_id, issuers)
        if not accepted:
            continue
        anyone = [jwt_pb2.JwtRequirement(provider_name=i.name) for i in accepted]
        anyone.append(jwt_pb2.JwtRequirement(allow_missing_or_failed=empty_pb2.Empty()))
        config.requirement_map[requirement_name(api_id)].CopyFrom(
            jwt_pb2.JwtRequirement(requires_any=jwt_pb2.JwtRequirementOrList(requirements=anyone))
        )
    return hcm_pb2.HttpFilter(name=JWT_FILTER, typed_config=packed(config))


def _from_metadata(header: str, path: str) -> mutation_rules_pb2.HeaderMutation:
    value = f"%DYNAMIC_METADATA({JWT_FILTER}:{path})%"
    return mutation_rules_pb2.HeaderMutation(
        append=base_pb2.HeaderValueOption(
            header=base_pb2.HeaderValue(key=header, value=value),
            append_action=base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD,
        )
    )


def token_error_filter() -> hcm_pb2.HttpFilter:
    """After jwt_authn: why it refused a token, or the verified token's `alg` and `kid`, into
    headers the sidecar reads (the strip filter removed any copy the client sent; an empty
    value adds nothing). The sidecar so checks the very token Envoy verified, never one it
    picked out of the Authorization header itself."""
    config = header_mutation_pb2.HeaderMutation(
        mutations=header_mutation_pb2.Mutations(
            request_mutations=[
                _from_metadata(TOKEN_ERROR_HEADER, f"{_FAILURE_KEY}:message"),
                _from_metadata(TOKEN_ALG_HEADER, f"{_HEADER_KEY}:alg"),
                _from_metadata(TOKEN_KID_HEADER, f"{_HEADER_KEY}:kid"),
            ]
        )
    )
    return hcm_pb2.HttpFilter(name=TOKEN_ERROR_FILTER, typed_config=packed(config))


def route_config(api_id: int, issuers: Sequence[TokenIssuerRow]) -> dict[str, any_pb2.Any]:
    """A route's jwt_authn requirement: its API's, or nothing verified when it has none."""
    if not issuers_of(api_id, issuers):
        return {}
    per_route = jwt_pb2.PerRouteConfig(requirement_name=requirement_name(api_id))
    return {JWT_FILTER: packed(per_route)}


def jwks_clusters(
    issuers: Sequence[TokenIssuerRow], gateway: GatewaySettings
) -> list[cluster_pb2.Cluster]:
    """A cluster per remote JWKS: its host, over TLS with the system's CAs for https."""
    return [_jwks_cluster(i, gateway) for i in issuers if i.jwks_uri]


def _jwks_cluster(issuer: TokenIssuerRow, gateway: GatewaySettings) -> cluster_pb2.Cluster:
    url = urlsplit(issuer.jwks_uri)
    host = url.hostname or ""
    https = url.scheme == "https"
    port = url.port or (443 if https else 80)
    upstream = UpstreamRow(
        id=0,
        name=issuer.name,
        connect_timeout_ms=JWKS_FETCH_TIMEOUT_MS,
        endpoints=(EndpointRow(host=host, port=port),),
        tls=TlsRow(sni=host, system_ca_file=gateway.system_ca_file) if https else None,
    )
    cluster = clusters.cluster(upstream)
    cluster.name = jwks_cluster_name(issuer)
    # Its own endpoints, never EDS: the JWKS host is not an upstream the owner manages.
    static = clusters.is_ip_address(host)
    cluster.type = cluster_pb2.Cluster.STATIC if static else cluster_pb2.Cluster.STRICT_DNS
    cluster.ClearField("eds_cluster_config")
    cluster.load_assignment.CopyFrom(clusters.load_assignment(upstream))
    cluster.load_assignment.cluster_name = cluster.name
    return cluster


def issuer_errors(issuers: Sequence[TokenIssuerRow]) -> list[str]:
    """What Envoy would refuse, or accept and then never verify, said before it sees it."""
    errors: list[str] = []
    names: set[str] = set()
    issued: set[str] = set()
    for i in issuers:
        label = f'token issuer "{i.name}"'
        if i.name in names:
            errors.append(f"{label}: the name is used twice")
        if i.issuer in issued:
            errors.append(f"{label}: issuer {i.issuer!r} is configured twice")
        names.add(i.name)
        issued.add(i.issuer)
        if not i.issuer:
            errors.append(f"{label}: no issuer (iss)")
        if not i.audiences or not all(i.audiences):
            errors.append(f"{label}: at least one audience, none empty")
        refused = sorted(set(i.algorithms) - ALGORITHMS)
        if not i.algorithms or refused:
            errors.append(
                f"{label}: algorithms must be some of {', '.join(sorted(ALGORITHMS))} "
                f"(refused: {', '.join(refused) or 'none given'}; RFC 8725)"
            )
        if not 0 <= i.leeway_seconds <= 300:
            errors.append(f"{label}: leeway {i.leeway_seconds} s is outside 0..300")
        if not 1 <= len(i.client_claims) <= len(TOKEN_CLIENT_HEADERS):
            errors.append(f"{label}: between 1 and {len(TOKEN_CLIENT_HEADERS)} client claims")
        errors.extend(f"{label}: {e}" for e in _jwks_errors(i))
    return errors


def _jwks_errors(issuer: TokenIssuerRow) -> list[str]:
    if bool(issuer.jwks_uri) == bool(issuer.jwks_json):
        return ["a JWKS URI or an inline JWKS, exactly one"]
    if issuer.jwks_uri:
        return _jwks_uri_errors(issuer)
    if len(issuer.jwks_json.encode()) > MAX_JWKS_BYTES:
        return [f"the inline JWKS is over {MAX_JWKS_BYTES // 1024} KiB"]
    try:
        document = json.loads(issuer.jwks_json)
    except ValueError as exc:
        return [f"the inline JWKS is not JSON: {exc}"]
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list) or not keys:
        return ['the inline JWKS has no "keys" list']
    return []


def _jwks_uri_errors(issuer: TokenIssuerRow) -> list[str]:
    url = urlsplit(issuer.jwks_uri)
    try:
        url.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        return [f"JWKS URI {issuer.jwks_uri!r} has a bad port"]
    if url.scheme not in ("https", "http") or not url.hostname:
        return [f"JWKS URI {issuer.jwks_uri!r} is not an http(s) URL with a host"]
    if issuer.jwks_cache_seconds < 1:
        return ["the JWKS cache duration must be at least a second"]
    return []
