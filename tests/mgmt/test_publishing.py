"""Every committed change publishes one snapshot; refused ones never replace the served one."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from mgmt.gateway import services
from mgmt.gateway.models import ApiKey, Route, Snapshot
from protos.tollgate.v1 import resources_pb2, snapshot_pb2
from tests.mgmt import factories
from xds_server import type_urls

# Publication runs in on_commit hooks: these tests commit for real.
pytestmark = [pytest.mark.db, pytest.mark.django_db(transaction=True)]


def _latest_published() -> Snapshot:
    return Snapshot.objects.filter(status=Snapshot.Status.PUBLISHED).latest()


def _credentials(snapshot: Snapshot) -> dict[str, resources_pb2.Credential]:
    message = snapshot_pb2.Snapshot.FromString(bytes(snapshot.payload))
    assert message.version == snapshot.version
    (shards,) = [s for s in message.sets if s.type_url == type_urls.CREDENTIAL_SHARD]
    found = {}
    for resource in shards.resources:
        shard = resources_pb2.CredentialShard()
        assert resource.body.Unpack(shard)
        found.update({c.key_id: c for c in shard.credentials})
    return found


def test_a_committed_change_publishes_a_new_snapshot():
    route = factories.catalog()
    before = Snapshot.objects.count()

    route.path = "/orders"
    route.save()

    assert Snapshot.objects.count() == before + 1
    latest = Snapshot.objects.latest()
    assert latest.status == Snapshot.Status.PUBLISHED
    assert latest.errors == ""
    assert latest.version
    assert latest.type_versions.keys() == set(type_urls.PUSH_ORDER)
    assert all(latest.type_versions.values())
    message = snapshot_pb2.Snapshot.FromString(bytes(latest.payload))
    assert message.version == latest.version
    assert {s.type_url: s.version for s in message.sets} == latest.type_versions


def test_saving_without_an_effective_change_publishes_no_second_snapshot():
    route = factories.catalog()
    first = _latest_published()
    published_before = len(factories.published())

    route.save()

    assert len(factories.published()) == published_before
    assert _latest_published().pk == first.pk
    assert _latest_published().version == first.version


def test_several_writes_in_one_transaction_publish_exactly_once(publish_calls):
    route = factories.catalog()
    before = Snapshot.objects.count()
    publish_calls.clear()

    with transaction.atomic():
        route.path = "/a"
        route.save()
        route.timeout_ms = 1234
        route.save()
        factories.route(api_version=route.api_version, upstream=route.upstream, path="/b")

    assert len(publish_calls) == 1
    assert Snapshot.objects.count() == before + 1
    assert Snapshot.objects.latest().status == Snapshot.Status.PUBLISHED


def test_nothing_publishes_before_the_transaction_commits():
    route = factories.catalog()
    before = Snapshot.objects.count()

    with transaction.atomic():
        route.path = "/later"
        route.save()
        assert Snapshot.objects.count() == before

    assert Snapshot.objects.count() == before + 1


def test_a_rolled_back_change_publishes_nothing():
    route = factories.catalog()
    before = Snapshot.objects.count()

    with pytest.raises(RuntimeError), transaction.atomic():
        route.path = "/never"
        route.save()
        raise RuntimeError("roll back")

    assert Snapshot.objects.count() == before


def test_re2_invalid_route_saved_through_the_orm_is_refused_and_the_served_snapshot_stays():
    route = factories.catalog()
    served = _latest_published()

    route.match_type = Route.MatchType.REGEX
    route.path = "/(?=admin).*"
    route.save()  # bypasses full_clean: the compiler must still refuse it

    latest = Snapshot.objects.latest()
    assert latest.pk != served.pk
    assert latest.status == Snapshot.Status.REFUSED
    assert "RE2" in latest.errors
    assert "/(?=admin).*" in latest.errors
    assert bytes(latest.payload) == b""
    assert _latest_published().pk == served.pk


def test_fixing_a_refused_route_publishes_again():
    route = factories.catalog()
    route.match_type = Route.MatchType.REGEX
    route.path = "/(?=admin).*"
    route.save()
    assert Snapshot.objects.latest().status == Snapshot.Status.REFUSED

    route.path = "/admin.*"
    route.save()

    assert Snapshot.objects.latest().status == Snapshot.Status.PUBLISHED


def test_updating_only_last_used_at_publishes_nothing(publish_calls):
    issued = services.create_api_key(application=factories.application())
    before = Snapshot.objects.count()
    publish_calls.clear()

    api_key = issued.api_key
    api_key.last_used_at = timezone.now()
    api_key.save(update_fields=["last_used_at"])

    assert publish_calls == []
    assert Snapshot.objects.count() == before
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at is not None


def test_updating_last_used_at_with_another_field_publishes(publish_calls):
    issued = services.create_api_key(application=factories.application())
    before = Snapshot.objects.count()
    publish_calls.clear()

    api_key = issued.api_key
    api_key.last_used_at = timezone.now()
    api_key.expires_at = timezone.now() + timedelta(days=1)
    api_key.save(update_fields=["last_used_at", "expires_at"])

    assert len(publish_calls) == 1
    assert Snapshot.objects.count() == before + 1


def test_a_new_key_is_published_unrevoked_with_its_hash():
    issued = services.create_api_key(application=factories.application())

    credential = _credentials(_latest_published())[issued.api_key.key_id]

    assert credential.revoked_at == 0
    assert credential.key_hash == bytes(issued.api_key.key_hash)
    assert credential.application_id == issued.api_key.application_id


def test_revoking_a_key_publishes_a_snapshot_that_marks_it_revoked():
    issued = services.create_api_key(application=factories.application())
    other = services.create_api_key(application=factories.application())
    before = _latest_published()

    services.revoke_api_key(api_key=issued.api_key)

    after = _latest_published()
    assert after.pk != before.pk
    revoked_at = ApiKey.objects.get(pk=issued.api_key.pk).revoked_at
    assert revoked_at is not None
    credentials = _credentials(after)
    assert credentials[issued.api_key.key_id].revoked_at == int(revoked_at.timestamp())
    assert credentials[other.api_key.key_id].revoked_at == 0


def test_revoking_a_revoked_key_again_changes_nothing():
    issued = services.create_api_key(application=factories.application())
    services.revoke_api_key(api_key=issued.api_key)
    first_revocation = ApiKey.objects.get(pk=issued.api_key.pk).revoked_at
    before = Snapshot.objects.count()

    services.revoke_api_key(
        api_key=ApiKey.objects.get(pk=issued.api_key.pk),
        at=timezone.now() + timedelta(days=1),
    )

    assert ApiKey.objects.get(pk=issued.api_key.pk).revoked_at == first_revocation
    assert Snapshot.objects.count() == before
