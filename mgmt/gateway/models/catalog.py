"""What API owners publish: organizations, products, APIs, versions, routes and upstreams."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from mgmt.compiler.rate_limits import MAX_ROUTE_COST
from mgmt.gateway import validators


class Organization(models.Model):
    """A partner or an internal team: owns APIs, applications, or both."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.CharField(
        max_length=63,
        unique=True,
        validators=[validators.validate_slug],
        help_text="Passed upstream as x-consumer-id.",
    )
    contact_email = models.EmailField(
        blank=True, help_text="Where lifecycle notices about this organization's applications go."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    """What partners subscribe to: a bundle of APIs offered on plans."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="products"
    )
    name = models.CharField(max_length=200)
    slug = models.CharField(max_length=63, unique=True, validators=[validators.validate_slug])
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Api(models.Model):
    """An API served at some hostnames under a base path."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="apis")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="apis")
    name = models.CharField(max_length=200)
    slug = models.CharField(max_length=63, unique=True, validators=[validators.validate_slug])
    hostnames = models.TextField(
        blank=True,
        validators=[validators.validate_hostnames],
        help_text="One per line or comma-separated; empty means any host.",
    )
    base_path = models.CharField(
        max_length=200, default="/", validators=[validators.validate_base_path]
    )
    version_header = models.CharField(
        max_length=100,
        blank=True,
        validators=[validators.validate_version_header],
        help_text="A request header that picks the version by its name, e.g. api-version; "
        "empty: versions are told apart by their path prefix only.",
    )
    default_version = models.ForeignKey(
        "ApiVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="With a version header: the version that serves requests sending none.",
    )
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "API"

    def __str__(self) -> str:
        return self.name

    def hostname_list(self) -> list[str]:
        return validators.split_list(self.hostnames)

    def clean(self) -> None:
        """Two APIs may share a hostname, but not a hostname and base path together."""
        if self.default_version is not None and self.default_version.api_id != self.pk:
            raise ValidationError({"default_version": "the default must be a version of this API"})
        if self.default_version is not None and not self.version_header:
            raise ValidationError(
                {"default_version": "a default version needs a version header to tell it apart"}
            )
        mine = set(self.hostname_list()) or {"*"}
        others = Api.objects.exclude(pk=self.pk).filter(base_path=self.base_path)
        for other in others:
            clash = mine & (set(other.hostname_list()) or {"*"})
            if clash:
                raise ValidationError(
                    {
                        "hostnames": f"API {other.name!r} already serves {self.base_path!r} "
                        f"on {', '.join(sorted(clash))}"
                    }
                )


class ApiVersion(models.Model):
    """One version of an API, with its lifecycle state.

    The lifecycle fields change only through mgmt.gateway.lifecycle (validated, audited).
    """

    class Lifecycle(models.TextChoices):
        DRAFT = "draft"
        PUBLISHED = "published"
        DEPRECATED = "deprecated"
        RETIRED = "retired"

    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=50, help_text="e.g. v1, 2024-06-01")
    path_prefix = models.CharField(
        max_length=100,
        blank=True,
        validators=[validators.validate_base_path],
        help_text="Placed after the API's base path, e.g. /v1; empty for none.",
    )
    lifecycle = models.CharField(
        max_length=12, choices=Lifecycle.choices, default=Lifecycle.DRAFT, db_index=True
    )
    published_at = models.DateTimeField(null=True, blank=True)
    deprecated_at = models.DateTimeField(
        null=True, blank=True, help_text="Sent as the Deprecation header (RFC 9745)."
    )
    sunset_at = models.DateTimeField(
        null=True,
        blank=True,
        db_index=True,
        help_text="Sent as the Sunset header (RFC 8594); from then on calls get 410 Gone.",
    )
    retired_at = models.DateTimeField(null=True, blank=True)
    successor = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="predecessors",
        help_text="Linked from the deprecated version's responses (rel=successor-version).",
    )
    changelog_url = models.URLField(
        blank=True, help_text="Linked from the deprecated version's responses (rel=deprecation)."
    )
    openapi_document = models.TextField(
        blank=True,
        validators=[validators.validate_openapi_document],
        help_text="This version's OpenAPI 3 document (JSON or YAML), shown in the portal.",
    )

    class Meta:
        ordering = ["api__name", "version"]
        constraints = [
            models.UniqueConstraint(fields=["api", "version"], name="unique_version_per_api"),
            models.CheckConstraint(
                condition=models.Q(sunset_at__isnull=True)
                | models.Q(deprecated_at__isnull=True)
                | models.Q(sunset_at__gte=models.F("deprecated_at")),
                name="sunset_not_before_deprecation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.api.name} {self.version}"

    def full_path(self) -> str:
        """Where the version is served: the API's base path and the version's prefix."""
        return self.api.base_path.rstrip("/") + self.path_prefix or "/"

    def clean(self) -> None:
        if self.successor_id is not None and self.successor is not None:
            if self.successor.api_id != self.api_id:
                raise ValidationError(
                    {"successor": "the successor must be a version of the same API"}
                )
            if self.successor_id == self.pk:
                raise ValidationError({"successor": "a version cannot succeed itself"})
        if self.sunset_at and self.deprecated_at and self.sunset_at < self.deprecated_at:
            raise ValidationError({"sunset_at": "the sunset cannot come before the deprecation"})


class Upstream(models.Model):
    """A service behind the gateway: an Envoy cluster."""

    class LbPolicy(models.TextChoices):
        ROUND_ROBIN = "ROUND_ROBIN", "Round robin"
        LEAST_REQUEST = "LEAST_REQUEST", "Least request"
        RANDOM = "RANDOM", "Random"
        RING_HASH = "RING_HASH", "Ring hash"
        MAGLEV = "MAGLEV", "Maglev"

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="upstreams"
    )
    name = models.CharField(
        max_length=63, unique=True, validators=[validators.validate_slug], help_text="Cluster name."
    )
    lb_policy = models.CharField(
        max_length=20, choices=LbPolicy.choices, default=LbPolicy.ROUND_ROBIN
    )
    connect_timeout_ms = models.PositiveIntegerField(
        default=1000, validators=[MinValueValidator(1), MaxValueValidator(60_000)]
    )
    health_check_path = models.CharField(
        max_length=200,
        blank=True,
        validators=[validators.validate_path],
        help_text="Active HTTP health check path; empty disables health checking.",
    )
    health_check_interval_ms = models.PositiveIntegerField(
        default=5000, validators=[MinValueValidator(100), MaxValueValidator(300_000)]
    )
    health_check_timeout_ms = models.PositiveIntegerField(
        default=1000, validators=[MinValueValidator(10), MaxValueValidator(60_000)]
    )
    unhealthy_threshold = models.PositiveIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    healthy_threshold = models.PositiveIntegerField(
        default=2, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.health_check_path and self.health_check_timeout_ms >= self.health_check_interval_ms:
            raise ValidationError(
                {"health_check_timeout_ms": "the timeout must be shorter than the interval"}
            )


class Endpoint(models.Model):
    """One address of an upstream."""

    upstream = models.ForeignKey(Upstream, on_delete=models.CASCADE, related_name="endpoints")
    host = models.CharField(max_length=253, validators=[validators.validate_endpoint_host])
    port = models.PositiveIntegerField(validators=[MinValueValidator(1), MaxValueValidator(65535)])
    weight = models.PositiveIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(10_000)]
    )

    class Meta:
        ordering = ["upstream__name", "host", "port"]
        constraints = [
            models.UniqueConstraint(fields=["upstream", "host", "port"], name="unique_endpoint"),
        ]

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


class Route(models.Model):
    """A path (and methods) of an API version, sent to an upstream, and how it is metered."""

    class MatchType(models.TextChoices):
        PREFIX = "prefix"
        EXACT = "exact"
        REGEX = "regex"

    class RateLimitFailure(models.TextChoices):
        OPEN = "open", "Fail open: admit calls unmetered"
        CLOSED = "closed", "Fail closed: refuse calls with 503"

    api_version = models.ForeignKey(ApiVersion, on_delete=models.CASCADE, related_name="routes")
    match_type = models.CharField(max_length=8, choices=MatchType.choices, default=MatchType.PREFIX)
    path = models.CharField(
        max_length=500, default="/", help_text="Relative to the API base path and version prefix."
    )
    methods = models.CharField(
        max_length=100,
        blank=True,
        validators=[validators.validate_methods],
        help_text="Comma-separated, e.g. GET,POST; empty means every method.",
    )
    upstream = models.ForeignKey(Upstream, on_delete=models.PROTECT, related_name="routes")
    timeout_ms = models.PositiveIntegerField(
        default=15_000, validators=[MinValueValidator(1), MaxValueValidator(3_600_000)]
    )
    position = models.PositiveIntegerField(
        default=0, help_text="Lower matches first within the API."
    )
    cost = models.PositiveIntegerField(
        default=1,
        validators=[
            MinValueValidator(1, "a call costs at least 1"),
            MaxValueValidator(MAX_ROUTE_COST, f"a call costs at most {MAX_ROUTE_COST:,}"),
        ],
        help_text="An expensive endpoint counts as this many calls against limits and quotas.",
    )
    rate_limit_failure = models.CharField(
        max_length=6,
        choices=RateLimitFailure.choices,
        default=RateLimitFailure.OPEN,
        help_text="What this route does when the rate-limit service or its Redis is unreachable.",
    )
    required_scopes = models.CharField(
        max_length=500,
        blank=True,
        validators=[validators.validate_scopes],
        help_text="Space-separated OAuth2 scopes a bearer token must carry to call this route "
        "(403 naming the missing one); an API key or client certificate needs a plan that "
        "grants them.",
    )

    class Meta:
        ordering = ["api_version", "position", "id"]

    def __str__(self) -> str:
        return f"{self.get_match_type_display()} {self.path}"

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if self.match_type == self.MatchType.REGEX:
            try:
                validators.validate_re2(self.path)
            except ValidationError as exc:
                errors["path"] = exc.messages
        else:
            try:
                validators.validate_path(self.path)
            except ValidationError as exc:
                errors["path"] = exc.messages
        if errors:
            raise ValidationError(errors)
