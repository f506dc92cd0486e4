"""`tollgate.v1.NodeReports/Report`: a node tells the control plane it is degraded.

Unary, on the ADS server's port, authenticated like ADS (the node's xDS credential proves
the node id it reports for). Each report is handed to mgmt before it is acknowledged, so a
node that gets no answer simply reports again: nothing is lost, nothing is recorded under
another node's name. Registered without generated stubs (a generic handler).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any, Final

import grpc

from protos.tollgate.v1 import reports_pb2
from xds_server.auth import CredentialStore, check_node, principal_from_metadata
from xds_server.errors import (
    EventsRefused,
    PermissionDenied,
    SourceUnavailable,
    Unauthenticated,
)

SERVICE: Final = "tollgate.v1.NodeReports"
METHOD: Final = f"/{SERVICE}/Report"
# Names and details are for a banner: short, printable.
MAX_NAME: Final = 64
MAX_DETAIL: Final = 500

log = logging.getLogger(__name__)

Forward = Callable[[dict[str, Any]], Awaitable[None]]


def condition_event(node_id: str, report: reports_pb2.NodeCondition) -> dict[str, Any]:
    """The JSON mgmt records, or ValueError for a report that is not one."""
    name = report.name
    if not name or len(name) > MAX_NAME or not name.replace("-", "").isalnum():
        raise ValueError("a condition's name is 1 to 64 letters, digits and dashes")
    if not math.isfinite(report.since) or report.since <= 0:
        raise ValueError("a condition's since is a positive Unix time")
    detail = "".join(ch for ch in report.detail[:MAX_DETAIL] if ch.isprintable())
    return {
        "node_id": node_id,
        "name": name,
        "active": report.active,
        "since": report.since,
        "detail": detail,
    }


class NodeReportsServicer:
    def __init__(self, credentials: CredentialStore, forward: Forward) -> None:
        self._credentials = credentials
        self._forward = forward

    async def report(
        self, request: reports_pb2.NodeCondition, context: grpc.aio.ServicerContext[Any, Any]
    ) -> reports_pb2.NodeConditionAck:
        try:
            principal = principal_from_metadata(
                context.invocation_metadata() or (), self._credentials
            )
        except Unauthenticated as exc:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, str(exc))
        try:
            if principal.role != "sidecar":
                raise PermissionDenied(f"a {principal.role} credential does not report conditions")
            check_node(principal, request.node_id)
            event = condition_event(request.node_id, request)
        except PermissionDenied as exc:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(exc))
        except ValueError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        try:
            await self._forward(event)
        except SourceUnavailable as exc:
            # The node keeps reporting until it gets an answer: say "later", not "no".
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"mgmt did not take it: {exc}")
        except EventsRefused as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        if request.active:
            log.warning("node %s reports %s: %s", request.node_id, event["name"], event["detail"])
        else:
            log.info("node %s: %s cleared", request.node_id, event["name"])
        return reports_pb2.NodeConditionAck()

    def handler(self) -> grpc.GenericRpcHandler[Any, Any]:
        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "Report": grpc.unary_unary_rpc_method_handler(
                    self.report,
                    request_deserializer=reports_pb2.NodeCondition.FromString,
                    response_serializer=reports_pb2.NodeConditionAck.SerializeToString,
                )
            },
        )


def mgmt_forwarder(
    post: Callable[[str, str, bytes, float], None], *, mgmt_url: str, token: str
) -> Forward:
    """Posts each condition to mgmt's /internal/xds/conditions (in a thread)."""
    url = mgmt_url.rstrip("/") + "/internal/xds/conditions"

    async def forward(event: dict[str, Any]) -> None:
        body = json.dumps({"conditions": [event]}).encode()
        await asyncio.to_thread(post, url, token, body, 2.0)

    return forward


async def logged_only(event: dict[str, Any]) -> None:
    """Without mgmt (a snapshot file), reports are only logged."""
