"""ext_authz's xDS subscription: credentials and applications, applied to its store."""

from extauthz.errors import StoreError
from extauthz.store import Store
from xds_server.sidecar_client import SidecarXdsClient, backoff_delay, default_node_id
from xds_server.type_urls import APPLICATION_SHARD, CREDENTIAL_SHARD

__all__ = ["XdsClient", "backoff_delay"]


class XdsClient(SidecarXdsClient):
    """Keeps `store` in sync with xds_server until `stop()`."""

    def __init__(self, store: Store, target: str, *, node_id: str | None = None) -> None:
        super().__init__(
            {
                CREDENTIAL_SHARD: store.replace_credential_shards,
                APPLICATION_SHARD: store.replace_application_shards,
            },
            target,
            node_id=node_id or default_node_id("extauthz"),
            refusals=(StoreError,),
        )
