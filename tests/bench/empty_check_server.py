"""The floor for any grpcio ext_authz sidecar: a Check server that answers OK with no work.

`python -m tests.bench.empty_check_server PORT`; the benchmark runs it to show how much of
the sidecar's cost is grpcio itself.
"""

import sys
from concurrent import futures

import grpc


def _identity(data: bytes) -> bytes:
    return data


def main() -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    check = grpc.unary_unary_rpc_method_handler(
        lambda request, context: b"",  # an empty CheckResponse: status OK, allow
        request_deserializer=_identity,
        response_serializer=_identity,
    )
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "envoy.service.auth.v3.Authorization", {"Check": check}
            ),
        )
    )
    server.add_insecure_port(f"127.0.0.1:{int(sys.argv[1])}")
    server.start()
    server.wait_for_termination()


if __name__ == "__main__":
    main()
