"""The compiler's input: plain frozen rows, read from the database by mgmt.gateway.selectors."""

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    """Where the gateway listens and how it reaches its sidecars (from Django settings)."""

    listen_address: str = "127.0.0.1"
    listen_port: int = 10000
    # ext_authz over Envoy's HTTP mode ("http", the default: measured twice as fast) or gRPC.
    authz_transport: str = "http"
    extauthz_cluster: str = "tollgate_extauthz"
    extauthz_http_cluster: str = "tollgate_extauthz_http"
    extauthz_timeout_ms: int = 250
    # What a fail-closed route answers when the counters cannot be reached.
    ratelimit_fail_closed_status: int = 503
    # The x-ratelimit-* headers (draft 03) besides the IETF RateLimit ones.
    ratelimit_draft03_headers: bool = False
    # The access-log collector's cluster (in the bootstrap); "" turns the access log off.
    access_log_cluster: str = "tollgate_accesslog"
    # How long Envoy buffers entries before it streams them, and how many bytes at most.
    access_log_flush_ms: int = 1000
    access_log_buffer_bytes: int = 65_536
    # The HTTPS listener's port (TLS certificates over SDS); 0: no HTTPS listener.
    https_port: int = 0
    # The CA bundle Envoy trusts for https JWKS endpoints.
    system_ca_file: str = "/etc/ssl/certs/ca-certificates.crt"


@dataclass(frozen=True, slots=True)
class CertificateRow:
    """A server certificate the gateway presents for its hostnames (SNI)."""

    name: str
    hostnames: tuple[str, ...]
    chain_pem: str
    sealed_key: bytes  # xds_server.sealing, bound to mgmt.compiler.tls.secret_name(name)
    # Or files on the gateway hosts, read by Envoy (then chain_pem and sealed_key are empty).
    chain_file: str = ""
    key_file: str = ""


@dataclass(frozen=True, slots=True)
class EndpointRow:
    host: str
    port: int
    weight: int = 1


@dataclass(frozen=True, slots=True)
class UpstreamTlsRow:
    """TLS from the gateway to an upstream."""

    sni: str  # sent, and the name the upstream's certificate must carry when verified
    verify: bool = True
    ca_pem: str = ""  # "" : trust `system_ca_file`
    system_ca_file: str = "/etc/ssl/certs/ca-certificates.crt"
    http2: bool = False
    # The client certificate presented when the upstream asks (mTLS); "" : none. Its key is
    # sealed (xds_server.sealing), bound to upstream_tls.client_secret_name(upstream id).
    client_chain_pem: str = ""
    client_sealed_key: bytes = b""


@dataclass(frozen=True, slots=True)
class UpstreamRow:
    id: int
    name: str
    lb_policy: str = "ROUND_ROBIN"
    connect_timeout_ms: int = 1000
    endpoints: tuple[EndpointRow, ...] = ()
    health_check_path: str = ""
    health_check_interval_ms: int = 5000
    health_check_timeout_ms: int = 1000
    unhealthy_threshold: int = 3
    healthy_threshold: int = 2
    tls: UpstreamTlsRow | None = None


@dataclass(frozen=True, slots=True)
class ApiRow:
    id: int
    slug: str
    name: str
    organization_id: int
    product_id: int
    hostnames: tuple[str, ...] = ()
    base_path: str = "/"
    # Lower-case header that selects a version by its name ("" : by path prefix only).
    version_header: str = ""
    # With a version header: the version that serves requests sending none (0: none does).
    default_version_id: int = 0


@dataclass(frozen=True, slots=True)
class ApiVersionRow:
    id: int
    api_id: int
    version: str
    lifecycle: str = "published"
    path_prefix: str = ""
    deprecated_at: int = 0  # unix seconds; 0 = not deprecated
    sunset_at: int = 0  # unix seconds; 0 = no sunset scheduled
    successor_id: int = 0  # a version of the same API; 0 = none
    changelog_url: str = ""


@dataclass(frozen=True, slots=True)
class RouteRow:
    id: int
    api_version_id: int
    upstream_id: int
    match_type: str = "prefix"
    path: str = "/"
    methods: tuple[str, ...] = ()
    timeout_ms: int = 15_000
    position: int = 0
    cost: int = 1
    rate_limit_failure: str = "open"
    # OAuth2 scopes a bearer token must carry to call this route (key and certificate callers
    # are governed by their subscription alone).
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WindowRow:
    """`requests` per `seconds`; `unit` is how the owner wrote it (names the window in headers)."""

    requests: int
    seconds: int
    unit: str
    algorithm: str = "sliding"
    shadow: bool = False


@dataclass(frozen=True, slots=True)
class PlanRow:
    id: int
    slug: str
    name: str
    product_id: int
    windows: tuple[WindowRow, ...] = ()
    quota_requests: int = 0  # 0: no quota
    quota_period_months: int = 1
    quota_shadow: bool = False
    metered: bool = False  # priced (mgmt.billing): its subscriptions' admitted calls are billed
    # OAuth2 scopes its subscribers hold: what a key or certificate caller may use of a route
    # that requires scopes, and what Tollgate's own tokens may carry.
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ApplicationRow:
    id: int
    public_id: str
    organization_id: int
    consumer_id: str


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    """Only subscriptions that grant access (state active) are read.

    `windows` and `quota_requests` are the subscription's overrides of its plan's limits.
    """

    id: int
    application_id: int
    product_id: int
    plan_slug: str
    plan_id: int = 0
    started_at: int = 0  # unix seconds: anchors the quota's billing periods
    windows: tuple[WindowRow, ...] = ()
    quota_requests: int = 0  # 0: the plan's quota


@dataclass(frozen=True, slots=True)
class CredentialRow:
    key_id: str
    key_hash: bytes
    application_id: int
    expires_at: int = 0
    revoked_at: int = 0


@dataclass(frozen=True, slots=True)
class TokenIssuerRow:
    """An issuer of JWT access tokens (RFC 9068 style) whose tokens the gateway accepts.

    Envoy's jwt_authn verifies the signature, `exp`/`nbf` (within `leeway_seconds`), `iss` and
    `aud`; the sidecar checks the algorithm allow-list and `kid` (RFC 8725), maps the first
    present of `client_claims` to an application (a TokenClientRow) and checks route scopes.
    """

    name: str  # slug: the jwt_authn provider's name
    issuer: str  # the exact `iss`
    audiences: tuple[str, ...]  # `aud` must hold one of these exactly
    jwks_uri: str = ""  # remote JWKS, fetched and cached by Envoy; "" : `jwks_json`
    jwks_json: str = ""  # inline JWKS (RFC 7517 JSON), e.g. Tollgate's own authorization server
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    leeway_seconds: int = 60
    client_claims: tuple[str, ...] = ("azp", "client_id")
    jwks_cache_seconds: int = 300
    api_ids: tuple[int, ...] = ()  # the APIs that accept its tokens
    every_api: bool = False  # Tollgate's own issuer: accepted by every API


@dataclass(frozen=True, slots=True)
class TokenClientRow:
    """A client of an issuer (its `azp`/`client_id` claim) acting as a Tollgate application."""

    issuer: str
    client_id: str
    application_id: int
    revoked_at: int = 0  # unix seconds; 0 : not revoked


@dataclass(frozen=True, slots=True)
class ClientCertificateRow:
    """A client certificate (by the SHA-256 of its DER) registered to an application."""

    fingerprint_sha256: bytes  # 32 bytes
    application_id: int
    expires_at: int = 0  # the certificate's notAfter, unix seconds
    revoked_at: int = 0


@dataclass(frozen=True, slots=True)
class Rows:
    """Everything one snapshot is compiled from."""

    upstreams: tuple[UpstreamRow, ...] = ()
    apis: tuple[ApiRow, ...] = ()
    versions: tuple[ApiVersionRow, ...] = ()
    routes: tuple[RouteRow, ...] = ()
    plans: tuple[PlanRow, ...] = ()
    applications: tuple[ApplicationRow, ...] = ()
    subscriptions: tuple[SubscriptionRow, ...] = ()
    credentials: tuple[CredentialRow, ...] = field(default=())
    # Oldest first: the oldest also answers clients that send no (or an unknown) SNI.
    certificates: tuple[CertificateRow, ...] = ()
    token_issuers: tuple[TokenIssuerRow, ...] = ()
    token_clients: tuple[TokenClientRow, ...] = ()
    client_certificates: tuple[ClientCertificateRow, ...] = ()
