"""The compiler's input: plain frozen rows, read from the database by mgmt.gateway.selectors."""

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    """Where the gateway listens and how it reaches its sidecars (from Django settings)."""

    listen_address: str = "127.0.0.1"
    listen_port: int = 10000
    extauthz_cluster: str = "tollgate_extauthz"
    extauthz_timeout_ms: int = 250


@dataclass(frozen=True, slots=True)
class EndpointRow:
    host: str
    port: int
    weight: int = 1


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


@dataclass(frozen=True, slots=True)
class ApiRow:
    id: int
    slug: str
    name: str
    organization_id: int
    product_id: int
    hostnames: tuple[str, ...] = ()
    base_path: str = "/"


@dataclass(frozen=True, slots=True)
class ApiVersionRow:
    id: int
    api_id: int
    version: str
    lifecycle: str = "published"
    path_prefix: str = ""
    sunset_at: int = 0
    successor_path: str = ""


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


@dataclass(frozen=True, slots=True)
class PlanRow:
    id: int
    slug: str
    name: str
    product_id: int


@dataclass(frozen=True, slots=True)
class ApplicationRow:
    id: int
    public_id: str
    organization_id: int
    consumer_id: str


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    """Only subscriptions that grant access (state active) are read."""

    id: int
    application_id: int
    product_id: int
    plan_slug: str


@dataclass(frozen=True, slots=True)
class CredentialRow:
    key_id: str
    key_hash: bytes
    application_id: int
    expires_at: int = 0
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
