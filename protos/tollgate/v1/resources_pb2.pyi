from google.protobuf.internal import containers as _containers
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

class CredentialShard(_message.Message):
    __slots__ = ("name", "index", "shard_count", "credentials")
    NAME_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    SHARD_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    name: str
    index: int
    shard_count: int
    credentials: _containers.RepeatedCompositeFieldContainer[Credential]
    def __init__(self, name: _Optional[str] = ..., index: _Optional[int] = ..., shard_count: _Optional[int] = ..., credentials: _Optional[_Iterable[_Union[Credential, _Mapping]]] = ...) -> None: ...

class Grant(_message.Message):
    __slots__ = ("api_id", "plan", "subscription_id")
    API_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    api_id: int
    plan: str
    subscription_id: int
    def __init__(self, api_id: _Optional[int] = ..., plan: _Optional[str] = ..., subscription_id: _Optional[int] = ...) -> None: ...

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
