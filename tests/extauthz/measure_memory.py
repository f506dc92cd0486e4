"""Measure the RSS the ext_authz store takes for N keys (default 1,000,000). Not a test.

    .venv/bin/python -m tests.extauthz.measure_memory [--keys N] [--applications N] [--shards N]

Shards are serialized first, exactly as xds_server would send them, then the input is
dropped and the resident-set growth of the loaded store is printed.
"""

import argparse
import gc
import os
import random
import time
import zlib

from extauthz.store import Store
from protos.tollgate.v1 import resources_pb2


def rss_mib(field: str = "VmRSS") -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def credential_shards(keys: int, applications: int, shard_count: int) -> list[bytes]:
    rng = random.Random(7)
    shards = [
        resources_pb2.CredentialShard(name=f"credentials/{i}", index=i, shard_count=shard_count)
        for i in range(shard_count)
    ]
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    for n in range(keys):
        key_id = "".join(rng.choices(alphabet, k=12))
        shard = shards[zlib.crc32(key_id.encode()) % shard_count]
        shard.credentials.add(
            key_id=key_id,
            key_hash=os.urandom(32),
            application_id=1 + n % applications,
            expires_at=0 if n % 4 else 1_900_000_000,
        )
    return [shard.SerializeToString() for shard in shards]


def application_shards(applications: int, shard_count: int) -> list[bytes]:
    shards = [
        resources_pb2.ApplicationShard(name=f"applications/{i}", index=i, shard_count=shard_count)
        for i in range(shard_count)
    ]
    for app_id in range(1, applications + 1):
        app = shards[app_id % shard_count].applications.add(
            id=app_id,
            public_id=f"app_{app_id:012d}",
            organization_id=1000 + app_id % 5000,
            consumer_id=f"org-{app_id % 5000}",
        )
        app.grants.add(api_id=1 + app_id % 50, plan="gold", subscription_id=app_id)
        app.grants.add(api_id=51 + app_id % 50, plan="free", subscription_id=app_id + 10**7)
    return [shard.SerializeToString() for shard in shards]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--applications", type=int, default=100_000)
    parser.add_argument("--shards", type=int, default=256)
    args = parser.parse_args()

    credentials = credential_shards(args.keys, args.applications, args.shards)
    applications = application_shards(args.applications, max(1, args.shards // 4))
    input_mib = sum(map(len, credentials)) / 2**20
    gc.collect()
    store = Store()
    before = rss_mib()

    started = time.perf_counter()
    store.replace_credential_shards(credentials)
    loaded_keys = time.perf_counter() - started
    after_keys = rss_mib()
    store.replace_application_shards(applications)
    del credentials, applications
    gc.collect()
    after_all = rss_mib()

    assert store.snapshot is not None
    print(f"keys: {args.keys:,} in {args.shards} shards ({input_mib:.0f} MiB on the wire)")
    print(f"load time (keys): {loaded_keys:.2f} s")
    print(f"RSS delta, keys only: {after_keys - before:.0f} MiB")
    print(f"RSS delta, keys + {args.applications:,} applications: {after_all - before:.0f} MiB")
    print(f"RSS total: {after_all:.0f} MiB (peak {rss_mib('VmHWM'):.0f} MiB)")


if __name__ == "__main__":
    main()
