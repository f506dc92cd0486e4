"""A node's side of `tollgate.v1.NodeReports/Report`: one authenticated unary call per report.

Used from the sidecar's event loop; raises on any failure, and the caller reports again.
"""

from __future__ import annotations

from typing import Final

import grpc

from protos.tollgate.v1 import reports_pb2
from xds_server.node_reports import METHOD

TIMEOUT_SECONDS: Final = 3.0


class ConditionReporter:
    """Reports this node's conditions to xds_server at `target`, as `node_id`."""

    def __init__(self, target: str, *, token: str, node_id: str) -> None:
        self._channel = grpc.aio.insecure_channel(target)
        self._call = self._channel.unary_unary(
            METHOD,
            request_serializer=reports_pb2.NodeCondition.SerializeToString,
            response_deserializer=reports_pb2.NodeConditionAck.FromString,
        )
        self._metadata = (("authorization", f"Bearer {token}"),)
        self._node_id = node_id

    async def report(self, *, name: str, active: bool, since: float, detail: str) -> None:
        """Raises `grpc.aio.AioRpcError` when xds_server (or mgmt behind it) did not take it."""
        await self._call(
            reports_pb2.NodeCondition(
                node_id=self._node_id, name=name, active=active, since=since, detail=detail
            ),
            metadata=self._metadata,
            timeout=TIMEOUT_SECONDS,
        )

    async def close(self) -> None:
        await self._channel.close(None)
