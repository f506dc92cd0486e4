"""Builders of real CredentialShard/ApplicationShard resources for the ext_authz tests."""

import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from extauthz.keys import IssuedKey, issue_key
from extauthz.store import Store
from protos.tollgate.v1 import resources_pb2

NOW = 1_700_000_000.0
OWNER_ORG = 10
PARTNER_ORG = 20
PUBLISHED_API = "200"
DRAFT_API = "100"


def credential_shards(
    credentials: Iterable[resources_pb2.Credential], shard_count: int = 4
) -> list[bytes]:
    shards = [
        resources_pb2.CredentialShard(name=f"credentials/{i}", index=i, shard_count=shard_count)
        for i in range(shard_count)
    ]
    for credential in credentials:
        index = zlib.crc32(credential.key_id.encode()) % shard_count
        shards[index].credentials.append(credential)
    return [shard.SerializeToString() for shard in shards]


def application_shards(
    applications: Iterable[resources_pb2.Application], shard_count: int = 2
) -> list[bytes]:
    shards = [
        resources_pb2.ApplicationShard(name=f"applications/{i}", index=i, shard_count=shard_count)
        for i in range(shard_count)
    ]
    for application in applications:
        shards[application.id % shard_count].applications.append(application)
    return [shard.SerializeToString() for shard in shards]


def grant(api_id: str, plan: str) -> resources_pb2.Grant:
    return resources_pb2.Grant(api_id=int(api_id), plan=plan, subscription_id=int(api_id) + 5000)


@dataclass
class World:
    """A partner app subscribed to the published API, an app of the owner, and their keys."""

    partner: resources_pb2.Application = field(
        default_factory=lambda: resources_pb2.Application(
            id=1,
            public_id="app_partner",
            organization_id=PARTNER_ORG,
            consumer_id="acme",
            grants=[grant(PUBLISHED_API, "gold")],
        )
    )
    owner: resources_pb2.Application = field(
        default_factory=lambda: resources_pb2.Application(
            id=2,
            public_id="app_owner",
            organization_id=OWNER_ORG,
            consumer_id="api-owner",
            grants=[grant(DRAFT_API, "internal"), grant(PUBLISHED_API, "internal")],
        )
    )
    keys: dict[str, IssuedKey] = field(default_factory=dict)
    credentials: list[resources_pb2.Credential] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.add_key("partner", self.partner.id)
        self.add_key("owner", self.owner.id)
        self.add_key("revoked", self.partner.id, revoked_at=int(NOW) - 60)
        self.add_key("expired", self.partner.id, expires_at=int(NOW) - 1)
        self.add_key("expiring_later", self.partner.id, expires_at=int(NOW) + 3600)
        self.add_key("rotating_out", self.partner.id, revoked_at=int(NOW) + 3600)
        self.add_key("orphan", 999)

    def add_key(self, name: str, application_id: int, **fields: int) -> IssuedKey:
        issued = issue_key()
        self.keys[name] = issued
        self.credentials.append(
            resources_pb2.Credential(
                key_id=issued.key_id,
                key_hash=issued.key_hash,
                application_id=application_id,
                **fields,
            )
        )
        return issued

    def secret(self, name: str) -> str:
        return self.keys[name].secret

    def store(self) -> Store:
        store = Store()
        store.replace_credential_shards(credential_shards(self.credentials))
        store.replace_application_shards(application_shards([self.partner, self.owner]))
        return store


def route(
    api: str = PUBLISHED_API,
    lifecycle: str = "published",
    *,
    sunset: str | None = None,
    retired_body: str | None = None,
) -> dict[str, str]:
    """The context_extensions Envoy sends for one Tollgate route (a deprecated version's with
    its sunset and 410 body, as mgmt.compiler.lifecycle_routes.sunset_context writes them)."""
    extensions = {
        "api": api,
        "version": "7",
        "route": "3",
        "lifecycle": lifecycle,
        "owner": str(OWNER_ORG),
    }
    if sunset is not None:
        extensions["sunset"] = sunset
    if retired_body is not None:
        extensions["retired_body"] = retired_body
    return extensions
