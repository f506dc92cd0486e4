"""The data each end-to-end test starts from: the demo, on the test's upstreams."""

from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from mgmt.embedded.demo_data import seed_demo
from mgmt.gateway import services
from mgmt.gateway.models import Application, Organization


@dataclass(frozen=True)
class Scenario:
    demo_key: str
    stranger_key: str  # an application with no subscription


@transaction.atomic  # one commit, one snapshot: waiting for the demo key covers the rest
def seed(upstream_port: int, tmp_path: Path) -> Scenario:
    demo = seed_demo(
        upstream_port=upstream_port,
        key_file=tmp_path / "demo_key",
        admin_password="pw-e2e",
        rate_limited=False,  # tests send bursts with the demo key; limits get tests of their own
    )
    partner = Organization.objects.get(slug="demo-partner")
    stranger = Application.objects.create(organization=partner, name="Unsubscribed app")
    return Scenario(demo.api_key, services.create_api_key(application=stranger).secret)
