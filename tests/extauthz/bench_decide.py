"""Decisions per second of `decide()` on one thread. Not a test.

.venv/bin/python -m tests.extauthz.bench_decide [--seconds S]
"""

import argparse
import time

from envoy.service.auth.v3 import external_auth_pb2

from extauthz.decision import decide
from tests.extauthz.factories import NOW, World, route


def rate(label: str, headers: dict[str, str], extensions: dict[str, str], seconds: float) -> None:
    world = World()
    store = world.store()
    headers = {k: v.replace("{partner}", world.secret("partner")) for k, v in headers.items()}
    decide(headers, extensions, store, NOW)  # warm the allowed-response cache
    n, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(10_000):
            decide(headers, extensions, store, NOW)
        n += 10_000
    print(f"{label:<40} {n / elapsed:>12,.0f} decisions/s  ({elapsed / n * 1e6:.2f} us each)")


def rate_from_request(seconds: float) -> None:
    """The same, reading headers from a parsed upb CheckRequest as the server does."""
    world = World()
    store = world.store()
    request = external_auth_pb2.CheckRequest()
    http = request.attributes.request.http
    http.headers.update({"x-api-key": world.secret("partner"), "user-agent": "bench", ":path": "/"})
    request.attributes.context_extensions.update(route())
    raw = request.SerializeToString()
    n, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(10_000):
            parsed = external_auth_pb2.CheckRequest.FromString(raw)
            attributes = parsed.attributes
            decide(attributes.request.http.headers, attributes.context_extensions, store, NOW)
        n += 10_000
    print(f"{'parse CheckRequest + allowed x-api-key':<40} {n / elapsed:>12,.0f} decisions/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0)
    seconds = parser.parse_args().seconds
    rate("allowed, x-api-key", {"x-api-key": "{partner}"}, route(), seconds)
    rate("allowed, Authorization: Bearer", {"authorization": "Bearer {partner}"}, route(), seconds)
    rate("denied, missing key", {}, route(), seconds)
    rate_from_request(seconds)


if __name__ == "__main__":
    main()
