from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Credential(_message.Message):
    __slots__ = ("key_id", "key_hash", "application_id", "expires_at", "revoked_at")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_HASH_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    key_hash: bytes
    application_id: int
    expires_at: int
    revoked_at: int
    def __init__(self, key_id: _Optional[str] = ..., key_hash: _Optional[bytes] = ..., application_id: _Optional[int] = ..., expires_at: _Optional[int] = ..., revoked_at: _Optional[int] = ...) -> None: ...

class TokenClient(_message.Message):
    __slots__ = ("issuer", "client_id", "application_id", "revoked_at")
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    issuer: str
    client_id: str
    application_id: int
    revoked_at: int
    def __init__(self, issuer: _Optional[str] = ..., client_id: _Optional[str] = ..., application_id: _Optional[int] = ..., revoked_at: _Optional[int] = ...) -> None: ...

class ClientCertificate(_message.Message):
    __slots__ = ("fingerprint_sha256", "application_id", "expires_at", "revoked_at")
    FINGERPRINT_SHA256_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    fingerprint_sha256: bytes
    application_id: int
    expires_at: int
    revoked_at: int
    def __init__(self, fingerprint_sha256: _Optional[bytes] = ..., application_id: _Optional[int] = ..., expires_at: _Optional[int] = ..., revoked_at: _Optional[int] = ...) -> None: ...

class CredentialShard(_message.Message):
    __slots__ = ("name", "index", "shard_count", "credentials", "token_clients", "client_certificates")
    NAME_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    SHARD_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    TOKEN_CLIENTS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_CERTIFICATES_FIELD_NUMBER: _ClassVar[int]
    name: str
    index: int
    shard_count: int
    credentials: _containers.RepeatedCompositeFieldContainer[Credential]
    token_clients: _containers.RepeatedCompositeFieldContainer[TokenClient]
    client_certificates: _containers.RepeatedCompositeFieldContainer[ClientCertificate]
    def __init__(self, name: _Optional[str] = ..., index: _Optional[int] = ..., shard_count: _Optional[int] = ..., credentials: _Optional[_Iterable[_Union[Credential, _Mapping]]] = ..., token_clients: _Optional[_Iterable[_Union[TokenClient, _Mapping]]] = ..., client_certificates: _Optional[_Iterable[_Union[ClientCertificate, _Mapping]]] = ...) -> None: ...

class Grant(_message.Message):
    __slots__ = ("api_id", "plan", "subscription_id", "scopes")
    API_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    api_id: int
    plan: str
    subscription_id: int
    scopes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, api_id: _Optional[int] = ..., plan: _Optional[str] = ..., subscription_id: _Optional[int] = ..., scopes: _Optional[_Iterable[str]] = ...) -> None: ...

class Application(_message.Message):
    __slots__ = ("id", "public_id", "organization_id", "consumer_id", "grants")
    ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_ID_FIELD_NUMBER: _ClassVar[int]
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    id: int
    public_id: str
    organization_id: int
    consumer_id: str
    grants: _containers.RepeatedCompositeFieldContainer[Grant]
    def __init__(self, id: _Optional[int] = ..., public_id: _Optional[str] = ..., organization_id: _Optional[int] = ..., consumer_id: _Optional[str] = ..., grants: _Optional[_Iterable[_Union[Grant, _Mapping]]] = ...) -> None: ...

class ApplicationShard(_message.Message):
    __slots__ = ("name", "index", "shard_count", "applications")
    NAME_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    SHARD_COUNT_FIELD_NUMBER: _ClassVar[int]
    APPLICATIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    index: int
    shard_count: int
    applications: _containers.RepeatedCompositeFieldContainer[Application]
    def __init__(self, name: _Optional[str] = ..., index: _Optional[int] = ..., shard_count: _Optional[int] = ..., applications: _Optional[_Iterable[_Union[Application, _Mapping]]] = ...) -> None: ...

class Plan(_message.Message):
    __slots__ = ("name", "slug", "display_name", "product_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SLUG_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    slug: str
    display_name: str
    product_id: int
    def __init__(self, name: _Optional[str] = ..., slug: _Optional[str] = ..., display_name: _Optional[str] = ..., product_id: _Optional[int] = ...) -> None: ...

class ApiVersionPolicy(_message.Message):
    __slots__ = ("id", "version", "lifecycle", "sunset_at", "successor")
    ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LIFECYCLE_FIELD_NUMBER: _ClassVar[int]
    SUNSET_AT_FIELD_NUMBER: _ClassVar[int]
    SUCCESSOR_FIELD_NUMBER: _ClassVar[int]
    id: int
    version: str
    lifecycle: str
    sunset_at: int
    successor: str
    def __init__(self, id: _Optional[int] = ..., version: _Optional[str] = ..., lifecycle: _Optional[str] = ..., sunset_at: _Optional[int] = ..., successor: _Optional[str] = ...) -> None: ...

class ApiPolicy(_message.Message):
    __slots__ = ("name", "id", "slug", "owner_organization_id", "versions")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    SLUG_FIELD_NUMBER: _ClassVar[int]
    OWNER_ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    id: int
    slug: str
    owner_organization_id: int
    versions: _containers.RepeatedCompositeFieldContainer[ApiVersionPolicy]
    def __init__(self, name: _Optional[str] = ..., id: _Optional[int] = ..., slug: _Optional[str] = ..., owner_organization_id: _Optional[int] = ..., versions: _Optional[_Iterable[_Union[ApiVersionPolicy, _Mapping]]] = ...) -> None: ...

class RateLimitWindow(_message.Message):
    __slots__ = ("requests", "window_seconds", "algorithm", "shadow", "unit")
    class Algorithm(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        SLIDING: _ClassVar[RateLimitWindow.Algorithm]
        FIXED: _ClassVar[RateLimitWindow.Algorithm]
    SLIDING: RateLimitWindow.Algorithm
    FIXED: RateLimitWindow.Algorithm
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    SHADOW_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    requests: int
    window_seconds: int
    algorithm: RateLimitWindow.Algorithm
    shadow: bool
    unit: str
    def __init__(self, requests: _Optional[int] = ..., window_seconds: _Optional[int] = ..., algorithm: _Optional[_Union[RateLimitWindow.Algorithm, str]] = ..., shadow: _Optional[bool] = ..., unit: _Optional[str] = ...) -> None: ...

class RateLimitQuota(_message.Message):
    __slots__ = ("requests", "period_months", "anchor", "shadow", "meter")
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    PERIOD_MONTHS_FIELD_NUMBER: _ClassVar[int]
    ANCHOR_FIELD_NUMBER: _ClassVar[int]
    SHADOW_FIELD_NUMBER: _ClassVar[int]
    METER_FIELD_NUMBER: _ClassVar[int]
    requests: int
    period_months: int
    anchor: int
    shadow: bool
    meter: bool
    def __init__(self, requests: _Optional[int] = ..., period_months: _Optional[int] = ..., anchor: _Optional[int] = ..., shadow: _Optional[bool] = ..., meter: _Optional[bool] = ...) -> None: ...

class SubscriptionLimits(_message.Message):
    __slots__ = ("subscription_id", "application_id", "plan", "windows", "quota")
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    WINDOWS_FIELD_NUMBER: _ClassVar[int]
    QUOTA_FIELD_NUMBER: _ClassVar[int]
    subscription_id: int
    application_id: int
    plan: str
    windows: _containers.RepeatedCompositeFieldContainer[RateLimitWindow]
    quota: RateLimitQuota
    def __init__(self, subscription_id: _Optional[int] = ..., application_id: _Optional[int] = ..., plan: _Optional[str] = ..., windows: _Optional[_Iterable[_Union[RateLimitWindow, _Mapping]]] = ..., quota: _Optional[_Union[RateLimitQuota, _Mapping]] = ...) -> None: ...

class RateLimitShard(_message.Message):
    __slots__ = ("name", "index", "shard_count", "subscriptions")
    NAME_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    SHARD_COUNT_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    index: int
    shard_count: int
    subscriptions: _containers.RepeatedCompositeFieldContainer[SubscriptionLimits]
    def __init__(self, name: _Optional[str] = ..., index: _Optional[int] = ..., shard_count: _Optional[int] = ..., subscriptions: _Optional[_Iterable[_Union[SubscriptionLimits, _Mapping]]] = ...) -> None: ...
