"""Rows in, a versioned and consistent snapshot out: the whole compiler in one pure call."""

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from google.protobuf.message import Message

from mgmt.compiler import clusters, sidecar_resources, tls, token_auth, upstream_tls
from mgmt.compiler.inputs import GatewaySettings, Rows
from mgmt.compiler.listener import listener
from mgmt.compiler.packing import packed
from mgmt.compiler.routes import route_configuration
from mgmt.compiler.row_checks import gateway_errors, row_errors
from protos.tollgate.v1 import snapshot_pb2
from xds_server import type_urls
from xds_server.snapshot import Snapshot

_VERSION_CHARS = 20


@dataclass(frozen=True, slots=True)
class Compiled:
    """A snapshot ready to publish, or the reasons it must not be."""

    snapshot: snapshot_pb2.Snapshot | None
    errors: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.snapshot is not None


def _resource(name: str, message: Message) -> snapshot_pb2.Resource:
    return snapshot_pb2.Resource(name=name, body=packed(message))


def resource_set(
    type_url: str, resources: Iterable[snapshot_pb2.Resource]
) -> snapshot_pb2.ResourceSet:
    ordered = sorted(resources, key=lambda r: r.name)
    digest = hashlib.sha256()
    for r in ordered:
        digest.update(r.name.encode())
        digest.update(b"\0")
        digest.update(r.body.value)
        digest.update(b"\0")
    return snapshot_pb2.ResourceSet(
        type_url=type_url, version=digest.hexdigest()[:_VERSION_CHARS], resources=ordered
    )


def snapshot_version(sets: Sequence[snapshot_pb2.ResourceSet]) -> str:
    digest = hashlib.sha256()
    for s in sorted(sets, key=lambda s: s.type_url):
        digest.update(f"{s.type_url}={s.version};".encode())
    return digest.hexdigest()[:_VERSION_CHARS]


def _listeners(rows: Rows, gateway: GatewaySettings) -> list[snapshot_pb2.Resource]:
    jwt = token_auth.jwt_filter(rows.token_issuers, (a.id for a in rows.apis))
    plain = listener(gateway, jwt)
    resources = [_resource(plain.name, plain)]
    mtls = bool(tls.accepted_client_certificates(rows.client_certificates))
    https = tls.https_listener(gateway, rows.certificates, jwt=jwt, mtls=mtls)
    if https is not None:
        resources.append(_resource(https.name, https))
    return resources


def _clusters(rows: Rows, gateway: GatewaySettings) -> list[snapshot_pb2.Resource]:
    upstreams = sorted(rows.upstreams, key=lambda u: u.name)
    jwks = token_auth.jwks_clusters(rows.token_issuers, gateway)
    return [
        *(_resource(clusters.cluster_name(u), clusters.cluster(u)) for u in upstreams),
        *(_resource(c.name, c) for c in jwks),
    ]


def compile_snapshot(rows: Rows, gateway: GatewaySettings, compiled_at: int = 0) -> Compiled:
    """Equal rows and settings give an equal version; `compiled_at` is not hashed."""
    errors = [*gateway_errors(gateway), *row_errors(rows)]
    if errors:
        return Compiled(None, tuple(errors))

    upstreams = sorted(rows.upstreams, key=lambda u: u.name)
    sets = [
        resource_set(type_urls.CLUSTER, _clusters(rows, gateway)),
        resource_set(
            type_urls.ENDPOINT,
            (
                _resource(clusters.cluster_name(u), clusters.load_assignment(u))
                for u in upstreams
                if clusters.uses_eds(u)
            ),
        ),
        resource_set(type_urls.LISTENER, _listeners(rows, gateway)),
        resource_set(
            type_urls.SECRET,
            [
                *(
                    _resource(tls.secret_name(c.name), tls.server_secret(c))
                    for c in rows.certificates
                ),
                *(_resource(s.name, s) for s in upstream_tls.client_secrets(upstreams)),
            ],
        ),
        resource_set(
            type_urls.ROUTE, [_resource("gateway_routes", route_configuration(rows, gateway))]
        ),
        resource_set(
            type_urls.CREDENTIAL_SHARD,
            (_resource(s.name, s) for s in sidecar_resources.credential_shards(rows)),
        ),
        resource_set(
            type_urls.APPLICATION_SHARD,
            (_resource(s.name, s) for s in sidecar_resources.application_shards(rows)),
        ),
        resource_set(
            type_urls.RATE_LIMIT_SHARD,
            (_resource(s.name, s) for s in sidecar_resources.rate_limit_shards(rows)),
        ),
        resource_set(type_urls.PLAN, (_resource(p.name, p) for p in sidecar_resources.plans(rows))),
        resource_set(
            type_urls.API_POLICY,
            (_resource(p.name, p) for p in sidecar_resources.api_policies(rows)),
        ),
    ]
    message = snapshot_pb2.Snapshot(
        version=snapshot_version(sets), sets=sets, compiled_at=compiled_at
    )
    inconsistent = Snapshot.from_proto(message).consistency_errors()
    if inconsistent:
        return Compiled(None, tuple(inconsistent))
    return Compiled(message, ())


def summary(message: snapshot_pb2.Snapshot) -> str:
    """Resource counts per type, for the admin list."""
    return ", ".join(f"{s.type_url.rsplit('.', 1)[-1]}: {len(s.resources)}" for s in message.sets)
