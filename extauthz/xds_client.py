"""ext_authz's xDS subscription: credentials and applications, applied to its store, and
each subscription's limits, applied to its rules."""

from extauthz.errors import StoreError
from extauthz.store import Store
from ratelimit_svc.subscription_rules import RulesRefused, SubscriptionRules
from xds_server.sidecar_client import SidecarXdsClient, backoff_delay
from xds_server.type_urls import APPLICATION_SHARD, CREDENTIAL_SHARD, RATE_LIMIT_SHARD

__all__ = ["XdsClient", "backoff_delay"]


class XdsClient(SidecarXdsClient):
    """Keeps `store` in sync with xds_server until `stop()`."""

    def __init__(
        self,
        store: Store,
        target: str,
        *,
        node_id: str,
        token: str,
        rules: SubscriptionRules | None = None,
    ) -> None:
        appliers = {}
        if rules is not None:
            # Limits first (the push order): a subscription is never admitted uncounted.
            appliers[RATE_LIMIT_SHARD] = rules.replace_shards
        appliers[CREDENTIAL_SHARD] = store.replace_credential_shards
        appliers[APPLICATION_SHARD] = store.replace_application_shards
        super().__init__(
            appliers,
            target,
            node_id=node_id,
            token=token,
            refusals=(StoreError, RulesRefused),
        )
