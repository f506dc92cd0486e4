"""The store: SotW replacement per shard, reuse of unchanged shards, refusal of bad updates."""

import pytest

from extauthz.errors import StoreError
from extauthz.keys import issue_key
from extauthz.store import Store
from protos.tollgate.v1 import resources_pb2
from tests.extauthz.factories import World, application_shards, credential_shards

pytestmark = pytest.mark.pure


def credential(application_id: int = 1) -> resources_pb2.Credential:
    issued = issue_key()
    return resources_pb2.Credential(
        key_id=issued.key_id, key_hash=issued.key_hash, application_id=application_id
    )


def loaded(credentials: list[resources_pb2.Credential], shard_count: int = 4) -> Store:
    store = Store()
    store.replace_credential_shards(credential_shards(credentials, shard_count))
    store.replace_application_shards(application_shards([World().partner]))
    return store


def test_nothing_is_visible_until_both_types_have_arrived() -> None:
    store = Store()
    store.replace_credential_shards(credential_shards([credential()]))
    assert store.snapshot is None
    store.replace_application_shards(application_shards([]))
    assert store.snapshot is not None


def test_key_removed_from_its_shard_is_gone_after_replacement() -> None:
    kept, dropped = credential(), credential()
    store = loaded([kept, dropped])
    assert store.snapshot is not None
    assert store.snapshot.credential(dropped.key_id) is not None

    store.replace_credential_shards(credential_shards([kept]))

    assert store.snapshot.credential(dropped.key_id) is None
    assert store.snapshot.credential(kept.key_id) is not None


def test_shard_missing_from_a_response_is_removed() -> None:
    credentials = [credential() for _ in range(40)]
    store = loaded(credentials)
    shards = credential_shards(credentials)
    first = resources_pb2.CredentialShard.FromString(shards[0])
    assert len(first.credentials) > 0

    store.replace_credential_shards(shards[1:])

    assert store.snapshot is not None
    for gone in first.credentials:
        assert store.snapshot.credential(gone.key_id) is None
    survivors = [c for c in credentials if c.key_id not in {g.key_id for g in first.credentials}]
    assert all(store.snapshot.credential(c.key_id) is not None for c in survivors)


def test_unchanged_shard_bytes_are_not_parsed_again() -> None:
    credentials = [credential() for _ in range(40)]
    store = loaded(credentials)
    parsed_after_load = store.shards_parsed

    changed = [*credentials, credential()]
    new_shards = credential_shards(changed)
    old_shards = credential_shards(credentials)
    changed_count = sum(new != old for new, old in zip(new_shards, old_shards, strict=True))
    store.replace_credential_shards(new_shards)

    assert changed_count == 1
    assert store.shards_parsed == parsed_after_load + 1
    assert store.snapshot is not None
    assert store.snapshot.credential(changed[-1].key_id) is not None


def test_shard_count_change_reshards_all_keys() -> None:
    credentials = [credential() for _ in range(30)]
    store = loaded(credentials, shard_count=4)
    store.replace_credential_shards(credential_shards(credentials, shard_count=7))
    assert store.snapshot is not None
    assert all(store.snapshot.credential(c.key_id) is not None for c in credentials)


def test_empty_response_removes_every_key() -> None:
    only = credential()
    store = loaded([only])
    store.replace_credential_shards([])
    assert store.snapshot is not None
    assert store.snapshot.credential(only.key_id) is None


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(
            lambda c: [
                *credential_shards([c], 4)[:2],
                *credential_shards([], 3)[2:],
            ],
            id="mixed-shard-counts",
        ),
        pytest.param(lambda c: [b"\xff\xff\xff"], id="undecodable"),
        pytest.param(
            lambda c: [
                resources_pb2.CredentialShard(
                    name="credentials/0",
                    index=0,
                    shard_count=1,
                    credentials=[resources_pb2.Credential(key_id=c.key_id, key_hash=b"short")],
                ).SerializeToString()
            ],
            id="short-hash",
        ),
        pytest.param(
            lambda c: [
                resources_pb2.CredentialShard(
                    name="credentials/9", index=9, shard_count=2
                ).SerializeToString()
            ],
            id="index-out-of-range",
        ),
        pytest.param(
            lambda c: [
                resources_pb2.CredentialShard(
                    name="credentials/x",
                    index=(crc32_of(c.key_id) + 1) % 2,
                    shard_count=2,
                    credentials=[c],
                ).SerializeToString()
            ],
            id="key-in-wrong-shard",
        ),
    ],
)
def test_bad_update_is_refused_and_last_good_data_stays(bad: object) -> None:
    good = credential()
    store = loaded([good])
    before = store.snapshot
    with pytest.raises(StoreError):
        store.replace_credential_shards(bad(credential()))  # type: ignore[operator]
    assert store.snapshot is before
    assert store.snapshot is not None
    assert store.snapshot.credential(good.key_id) is not None


def crc32_of(key_id: str) -> int:
    import zlib

    return zlib.crc32(key_id.encode())


def test_allowed_cache_survives_key_changes_but_not_application_changes() -> None:
    world = World()
    store = world.store()
    assert store.snapshot is not None
    store.snapshot.allowed[(1, "200", "x-api-key")] = b"cached"

    store.replace_credential_shards(credential_shards(world.credentials[:1]))
    assert store.snapshot.allowed == {(1, "200", "x-api-key"): b"cached"}

    store.replace_application_shards(application_shards([world.partner]))
    assert store.snapshot.allowed == {}


def test_applications_are_looked_up_by_id_with_grants_by_api() -> None:
    store = World().store()
    assert store.snapshot is not None
    partner = store.snapshot.application(1)
    assert partner is not None
    assert partner.grants == {"200": ("gold", "5200", frozenset())}
    assert partner.organization_id == "20"
    assert store.snapshot.application(3) is None
