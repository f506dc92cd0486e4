"""The rollup tables' constraints: one row per bucket and dims, one FoldBatch per batch."""

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError

from mgmt.analytics.models import Coverage, FoldBatch, UsageDay, UsageHour, UsageMinute

pytestmark = [pytest.mark.db, pytest.mark.django_db]

AT = datetime(2030, 1, 1, tzinfo=UTC)
DIMS = {"api_id": 1, "version_id": 2, "route_id": 3, "application_id": 4, "status_class": "2xx"}


@pytest.mark.parametrize("model", [UsageMinute, UsageHour, UsageDay])
def test_a_bucket_holds_one_row_per_dims(model: type[UsageMinute]) -> None:
    model.objects.create(bucket=AT, **DIMS)
    model.objects.create(bucket=AT, **{**DIMS, "status_class": "5xx"})

    with pytest.raises(IntegrityError):
        model.objects.create(bucket=AT, **DIMS)


def test_a_batch_id_is_recorded_once() -> None:
    FoldBatch.objects.create(batch_id="m:1:abc", minute=AT)

    with pytest.raises(IntegrityError):
        FoldBatch.objects.create(batch_id="m:1:abc", minute=AT)


def test_a_node_has_one_coverage_row_per_minute() -> None:
    Coverage.objects.create(bucket=AT, node="envoy-1", seconds=60)

    with pytest.raises(IntegrityError):
        Coverage.objects.create(bucket=AT, node="envoy-1", seconds=30)
