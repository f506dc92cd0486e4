"""The developer services on the database: accounts, invitations, keys, subscriptions and
limit requests, and what an approval does to the published gateway limits."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.utils import timezone

from mgmt.developers import access, accounts
from mgmt.developers.errors import BadCredentials, EmailNotVerified, InvalidInput, NotPermitted
from mgmt.gateway import selectors
from mgmt.gateway.models import (
    ApiKey,
    LimitRequest,
    Membership,
    Organization,
    Role,
    Subscription,
)
from tests.mgmt import factories

pytestmark = [pytest.mark.db, pytest.mark.django_db]

PASSWORD = "correct horse battery"


def _signed_up(email: str = "alice@example.com", org: str = "Alice Corp") -> User:
    return accounts.sign_up(email=email, password=PASSWORD, organization_name=org).user


def _verified(email: str = "alice@example.com", org: str = "Alice Corp") -> User:
    user = _signed_up(email, org)
    accounts.verify_email(token=accounts.verification_token(user))
    return user


def test_sign_up_creates_the_user_an_organization_it_owns_and_mails_a_verification_link(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        signed = accounts.sign_up(
            email="  Alice@Example.COM ", password=PASSWORD, name="Alice", organization_name="Acme"
        )
    assert signed.user.username == "alice@example.com"
    assert signed.organization is not None and signed.organization.slug == "acme"
    membership = Membership.objects.get(user=signed.user)
    assert (membership.organization, membership.role) == (signed.organization, Role.OWNER)
    (message,) = mail.outbox
    assert message.to == ["alice@example.com"]
    link = re.search(r"http://\S+/portal/verify#(\S+)", message.body)
    assert link is not None
    with pytest.raises(EmailNotVerified):
        accounts.log_in(email="alice@example.com", password=PASSWORD)
    accounts.verify_email(token=link.group(1))
    assert accounts.log_in(email="ALICE@example.com", password=PASSWORD) == signed.user


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"password": "short"}, "password"),
        ({"password": "1234567890123"}, "password"),
        ({"password": "alice@example.com"}, "password"),
        ({"organization_name": "  "}, "organization_name"),
    ],
)
def test_sign_up_refuses_weak_passwords_and_a_missing_organization_writing_nothing(kwargs, field):
    with pytest.raises(InvalidInput) as refused:
        accounts.sign_up(
            **{
                "email": "alice@example.com",
                "password": PASSWORD,
                "organization_name": "A",
                **kwargs,
            }
        )
    assert field in refused.value.errors
    assert not User.objects.exists()
    assert not Organization.objects.exists()


def test_a_second_sign_up_with_a_verified_address_or_a_taken_organization_name_is_refused():
    _verified()
    with pytest.raises(InvalidInput) as same_email:
        accounts.sign_up(email="ALICE@example.com", password=PASSWORD, organization_name="Other")
    assert "email" in same_email.value.errors
    with pytest.raises(InvalidInput) as same_org:
        accounts.sign_up(email="bob@example.com", password=PASSWORD, organization_name="alice corp")
    assert "organization_name" in same_org.value.errors
    assert User.objects.count() == 1


def test_an_unverified_account_gives_way_to_a_new_sign_up_for_its_address():
    """A squatter who signs up with someone else's address cannot keep it from them, nor
    hand them an account with a password the squatter chose."""
    squatter = _signed_up("victim@example.com", "Squatters")
    squatted = Organization.objects.get(name="Squatters")
    owner = accounts.sign_up(
        email="victim@example.com",
        password="the owner's own passphrase",
        organization_name="Victim Co",
    ).user
    assert not User.objects.filter(pk=squatter.pk).exists()
    assert not Organization.objects.filter(pk=squatted.pk).exists()
    accounts.verify_email(token=accounts.verification_token(owner))
    assert (
        accounts.log_in(email="victim@example.com", password="the owner's own passphrase") == owner
    )
    with pytest.raises(BadCredentials):
        accounts.log_in(email="victim@example.com", password=PASSWORD)
    # The squatter's old link verifies nothing now.
    with pytest.raises(BadCredentials):
        accounts.verify_email(token=accounts.verification_token(squatter))


def test_forged_and_wrong_verification_tokens_and_passwords_are_refused():
    user = _signed_up()
    with pytest.raises(BadCredentials):
        accounts.verify_email(token=accounts.verification_token(user) + "x")
    with pytest.raises(BadCredentials):
        accounts.verify_email(token="not-a-token")
    accounts.verify_email(token=accounts.verification_token(user))
    with pytest.raises(BadCredentials, match="wrong email or password"):
        accounts.log_in(email="alice@example.com", password=PASSWORD + "!")
    with pytest.raises(BadCredentials, match="wrong email or password"):
        accounts.log_in(email="nobody@example.com", password=PASSWORD)


def test_an_access_token_authenticates_until_it_expires_or_is_revoked():
    user = _verified()
    issued = accounts.create_access_token(user=user, label="ci")
    assert accounts.user_for_access_token(issued.secret) == user
    later = issued.access_token.expires_at + timedelta(seconds=1)
    assert accounts.user_for_access_token(issued.secret, now=later) is None
    forged = issued.secret[:-4] + "AAAA"
    assert accounts.user_for_access_token(forged) is None
    accounts.revoke_access_token(token=issued.access_token)
    assert accounts.user_for_access_token(issued.secret) is None


def test_an_invitation_signs_up_its_address_into_the_organization_verified_and_only_once(
    django_capture_on_commit_callbacks,
):
    owner = _verified()
    org = Organization.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        invited = accounts.invite(
            organization=org, by=owner, email="Bob@example.com", role="billing"
        )
    assert invited.token in mail.outbox[-1].body
    with pytest.raises(InvalidInput) as other_address:
        accounts.sign_up(email="eve@example.com", password=PASSWORD, invitation_token=invited.token)
    assert "email" in other_address.value.errors
    signed = accounts.sign_up(
        email="bob@example.com", password=PASSWORD, invitation_token=invited.token
    )
    assert signed.verified and signed.organization is None
    assert Membership.objects.get(user=signed.user).role == Role.BILLING
    assert accounts.log_in(email="bob@example.com", password=PASSWORD) == signed.user
    with pytest.raises(InvalidInput):
        accounts.sign_up(
            email="bob2@example.com", password=PASSWORD, invitation_token=invited.token
        )


def test_an_organization_keeps_at_least_one_owner():
    owner = _verified()
    membership = Membership.objects.get(user=owner)
    with pytest.raises(InvalidInput):
        accounts.change_role(membership=membership, role=Role.DEVELOPER)
    with pytest.raises(NotPermitted):
        accounts.remove_member(membership=membership)
    second = _verified("carol@example.com", "Carol Ltd")
    Membership.objects.create(user=second, organization=membership.organization, role=Role.OWNER)
    accounts.change_role(membership=membership, role=Role.DEVELOPER)
    assert Membership.objects.get(pk=membership.pk).role == Role.DEVELOPER


def test_application_names_are_unique_per_organization_whatever_their_case():
    org = factories.organization()
    access.create_application(organization=org, name="Mobile")
    with pytest.raises(InvalidInput) as refused:
        access.create_application(organization=org, name="mobile")
    assert "name" in refused.value.errors
    access.create_application(organization=factories.organization(), name="Mobile")


def test_a_rotated_key_keeps_the_old_one_working_for_the_overlap_only():
    app = factories.application()
    old = access.issue_key(application=app, label="prod").api_key
    before = timezone.now()
    new = access.rotate_key(api_key=old, overlap_seconds=3600)
    old.refresh_from_db()
    assert new.api_key.rotated_from == old and new.api_key.label == "prod"
    assert new.secret.startswith(f"tg_{new.api_key.key_id}_")
    assert old.expires_at is not None
    assert before + timedelta(seconds=3599) <= old.expires_at <= timezone.now() + timedelta(hours=1)
    assert old.is_usable() and not old.is_usable(old.expires_at)
    access.revoke_key(api_key=old)
    with pytest.raises(InvalidInput):
        access.rotate_key(api_key=ApiKey.objects.get(pk=old.pk), overlap_seconds=60)
    with pytest.raises(InvalidInput) as too_long:
        access.rotate_key(api_key=new.api_key, overlap_seconds=31 * 86400)
    assert "overlap_seconds" in too_long.value.errors


def test_subscribing_is_active_or_pending_by_plan_and_once_per_product():
    app = factories.application()
    free = factories.plan()
    gold = factories.plan(product=free.product, requires_approval=True)
    private = factories.plan(public=False)
    assert access.subscribe(application=app, plan=free).state == Subscription.State.ACTIVE
    with pytest.raises(InvalidInput):
        access.subscribe(application=app, plan=gold)
    other = factories.application()
    assert access.subscribe(application=other, plan=gold).state == Subscription.State.PENDING
    with pytest.raises(InvalidInput):
        access.subscribe(application=other, plan=private)


@pytest.mark.django_db(transaction=True)
def test_an_approved_limit_request_becomes_the_subscriptions_published_limits():
    plan_limit = factories.plan_rate_limit(requests=10, unit="second")
    subscription = factories.subscription(plan=plan_limit.plan)
    user = _verified()
    request = access.request_limits(
        subscription=subscription,
        by=user,
        windows=[{"requests": 50, "unit": "second"}, {"requests": 100_000, "unit": "day"}],
        quota_requests=2_000_000,
        reason="launch",
    )
    with pytest.raises(InvalidInput):
        access.request_limits(
            subscription=subscription, by=user, windows=[], quota_requests=5, reason="again"
        )
    assert access.decide_limit_request(limit_request=request, approve=True, by=user)
    assert not access.decide_limit_request(limit_request=request, approve=False, by=user)
    assert LimitRequest.objects.get(pk=request.pk).state == LimitRequest.State.APPROVED
    (row,) = [s for s in selectors.current_rows().subscriptions if s.id == subscription.pk]
    assert [(w.requests, w.seconds) for w in row.windows] == [(50, 1), (100_000, 86400)]
    assert row.quota_requests == 2_000_000


def test_a_cancelled_subscription_cannot_ask_for_more():
    subscription = factories.subscription()
    access.cancel_subscription(subscription=subscription)
    assert Subscription.objects.get(pk=subscription.pk).state == Subscription.State.CANCELLED
    with pytest.raises(InvalidInput):
        access.request_limits(
            subscription=subscription,
            by=_verified(),
            windows=[{"requests": 5, "unit": "second"}],
            quota_requests=None,
            reason="more",
        )
