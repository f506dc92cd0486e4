"""What partners do with their organization's access: applications, API keys,
subscriptions and requests for higher limits. Every write is one transaction, and every
change that shapes the gateway reaches it as a new snapshot when that transaction commits
(mgmt.gateway.signals), so a revoked key is refused within a second or two."""

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from mgmt.compiler.rate_limits import window_seconds
from mgmt.developers import limit_request_mail
from mgmt.developers.errors import InvalidInput, NotPermitted, invalid
from mgmt.gateway import publishing, services, validators
from mgmt.gateway.models import (
    ApiKey,
    Application,
    LimitRequest,
    Organization,
    Plan,
    Subscription,
    SubscriptionRateLimit,
)
from mgmt.gateway.models.access import RateLimit

MAX_APPLICATIONS_PER_ORGANIZATION = 200
MAX_OPEN_KEYS_PER_APPLICATION = 20
# A key's expiry: a date the database and every client can read back (year 10000 cannot).
MAX_KEY_LIFETIME = timedelta(days=10 * 366)


# --- applications -----------------------------------------------------------------------


def _check_name_free(organization: Organization, name: str, pk: int | None = None) -> None:
    taken = Application.objects.filter(organization=organization, name__iexact=name)
    if pk is not None:
        taken = taken.exclude(pk=pk)
    if taken.exists():
        raise invalid("name", "your organization has an application of this name already")


@transaction.atomic
def create_application(
    *, organization: Organization, name: str, description: str = "", contact_email: str = ""
) -> Application:
    Organization.objects.select_for_update().filter(pk=organization.pk).first()
    if organization.applications.count() >= MAX_APPLICATIONS_PER_ORGANIZATION:
        raise invalid(
            "name", f"an organization has at most {MAX_APPLICATIONS_PER_ORGANIZATION} applications"
        )
    _check_name_free(organization, name)
    try:
        with transaction.atomic():
            return Application.objects.create(
                organization=organization,
                name=name,
                description=description,
                contact_email=contact_email,
            )
    except IntegrityError:
        raise invalid("name", "your organization has an application of this name already") from None


@transaction.atomic
def update_application(*, application: Application, **fields: Any) -> Application:
    """Only what a partner may change: name, description, contact address."""
    allowed = {"name", "description", "contact_email"}
    unknown = set(fields) - allowed
    if unknown:
        raise InvalidInput({f: ["this field cannot be changed"] for f in sorted(unknown)})
    if "name" in fields:
        _check_name_free(application.organization, fields["name"], application.pk)
    for field, value in fields.items():
        setattr(application, field, value)
    try:
        with transaction.atomic():
            application.save(update_fields=list(fields) or None)
    except IntegrityError:
        raise invalid("name", "your organization has an application of this name already") from None
    return application


@transaction.atomic
def delete_application(*, application: Application) -> None:
    """Its keys and subscriptions go with it; the gateway forgets it on the next snapshot."""
    application.delete()


# --- API keys ---------------------------------------------------------------------------


@transaction.atomic
def issue_key(
    *, application: Application, label: str = "", expires_at: datetime | None = None
) -> services.IssuedApiKey:
    now = timezone.now()
    if expires_at is not None and expires_at <= now:
        raise invalid("expires_at", "the expiry must be in the future")
    if expires_at is not None and expires_at > now + MAX_KEY_LIFETIME:
        raise invalid("expires_at", "a key expires within 10 years; leave it empty for never")
    _check_room_for_a_key(application, now, "label")
    return services.create_api_key(application=application, label=label, expires_at=expires_at)


def _check_room_for_a_key(application: Application, now: datetime, field: str) -> None:
    """At most MAX_OPEN_KEYS_PER_APPLICATION working keys, however they were made."""
    Application.objects.select_for_update().filter(pk=application.pk).first()
    open_keys = application.keys.filter(revoked_at__isnull=True).exclude(expires_at__lte=now)
    if open_keys.count() >= MAX_OPEN_KEYS_PER_APPLICATION:
        raise invalid(
            field,
            f"an application holds at most {MAX_OPEN_KEYS_PER_APPLICATION} working keys: "
            "revoke one first",
        )


@transaction.atomic
def rotate_key(*, api_key: ApiKey, overlap_seconds: int) -> services.IssuedApiKey:
    _check_room_for_a_key(api_key.application, timezone.now(), "key")
    try:
        return services.rotate_api_key(api_key=api_key, overlap=timedelta(seconds=overlap_seconds))
    except ValueError as exc:
        field = "overlap_seconds" if "overlap" in str(exc) else "key"
        raise invalid(field, str(exc)) from None


def revoke_key(*, api_key: ApiKey) -> ApiKey:
    return services.revoke_api_key(api_key=api_key)


# --- subscriptions ----------------------------------------------------------------------


@transaction.atomic
def subscribe(*, application: Application, plan: Plan) -> Subscription:
    """Active at once, or pending the API owner's approval when the plan says so."""
    if not plan.public:
        raise invalid("plan", "this plan is not offered in the portal")
    product = plan.product
    if Subscription.objects.filter(
        application=application, product=product, state__in=Subscription.OPEN_STATES
    ).exists():
        raise invalid(
            "plan",
            f"this application has a subscription to {product.name} already: "
            "cancel it to change plans",
        )
    state = Subscription.State.PENDING if plan.requires_approval else Subscription.State.ACTIVE
    try:
        with transaction.atomic():
            return Subscription.objects.create(
                application=application, product=product, plan=plan, state=state
            )
    except IntegrityError:
        raise invalid("plan", f"this application has a subscription to {product.name}") from None


@transaction.atomic
def cancel_subscription(*, subscription: Subscription) -> Subscription:
    """Ends it at once (the gateway answers 403 from the next snapshot); never undone. A
    suspended one is the API owner's to end: cancelling it would let the partner
    subscribe afresh and undo the suspension."""
    if subscription.state == Subscription.State.SUSPENDED:
        raise NotPermitted("the API owner suspended this subscription: ask them to lift it")
    Subscription.objects.filter(
        pk=subscription.pk, state__in=(Subscription.State.PENDING, Subscription.State.ACTIVE)
    ).update(state=Subscription.State.CANCELLED)
    # update() sends no signal: publish as a save would.
    publishing.publish_on_commit()
    subscription.refresh_from_db()
    return subscription


@transaction.atomic
def decide_subscription(*, subscription: Subscription, approve: bool) -> bool:
    """An API owner's answer to a pending subscription; False if it was no longer pending."""
    state = Subscription.State.ACTIVE if approve else Subscription.State.CANCELLED
    changes: dict[str, Any] = {"state": state}
    if approve:
        changes["started_at"] = timezone.now()  # its quota periods start when it starts
    updated = Subscription.objects.filter(
        pk=subscription.pk, state=Subscription.State.PENDING
    ).update(**changes)
    if updated:
        publishing.publish_on_commit()
    return updated == 1


# --- limit requests ---------------------------------------------------------------------


def _window(raw: Any, index: int) -> dict[str, Any]:
    where = f"windows.{index}"
    if not isinstance(raw, dict):
        raise invalid(where, "a window is an object with requests, unit and unit_multiplier")
    unknown = set(raw) - {"requests", "unit", "unit_multiplier"}
    if unknown:
        raise invalid(where, f"unknown fields: {', '.join(sorted(map(str, unknown)))}")
    requests, unit, multiplier = raw.get("requests"), raw.get("unit"), raw.get("unit_multiplier", 1)
    if not isinstance(requests, int) or isinstance(requests, bool):
        raise invalid(f"{where}.requests", "a whole number of requests")
    if not isinstance(unit, str) or unit not in RateLimit.Unit.values:
        raise invalid(f"{where}.unit", f"one of {', '.join(RateLimit.Unit.values)}")
    if not isinstance(multiplier, int) or isinstance(multiplier, bool) or multiplier < 1:
        raise invalid(f"{where}.unit_multiplier", "a whole number of units, at least 1")
    try:
        validators.validate_limit_requests(requests)
        validators.validate_window_seconds(window_seconds(unit, multiplier))
    except ValidationError as exc:
        raise invalid(where, " ".join(exc.messages)) from None
    return {"requests": requests, "unit": unit, "unit_multiplier": multiplier}


def checked_windows(raw: Any) -> list[dict[str, Any]]:
    """The requested windows, each valid and of a distinct length, shortest first."""
    if not isinstance(raw, list):
        raise invalid("windows", "a list of windows")
    if len(raw) > 8:
        raise invalid("windows", "at most 8 windows in one request")
    windows = [_window(item, i) for i, item in enumerate(raw)]
    lengths = [window_seconds(w["unit"], w["unit_multiplier"]) for w in windows]
    if len(set(lengths)) != len(lengths):
        raise invalid("windows", "two windows of the same length: ask for one limit per window")
    return sorted(windows, key=lambda w: window_seconds(w["unit"], w["unit_multiplier"]))


@transaction.atomic
def request_limits(
    *,
    subscription: Subscription,
    by: User,
    windows: Any,
    quota_requests: int | None,
    reason: str,
) -> LimitRequest:
    if subscription.state not in Subscription.OPEN_STATES:
        raise invalid("subscription", "this subscription has ended")
    checked = checked_windows(windows)
    if quota_requests is not None:
        try:
            validators.validate_quota_requests(quota_requests)
        except ValidationError as exc:
            raise InvalidInput({"quota_requests": list(exc.messages)}) from None
    if not checked and quota_requests is None:
        raise invalid("windows", "ask for at least one window or a quota")
    if not reason.strip():
        raise invalid("reason", "say what the higher limits are for")
    if subscription.limit_requests.filter(state=LimitRequest.State.PENDING).exists():
        raise invalid("subscription", "a request for this subscription is waiting for an answer")
    created = LimitRequest.objects.create(
        subscription=subscription,
        requested_by=by,
        windows=checked,
        quota_requests=quota_requests,
        reason=reason.strip(),
    )
    limit_request_mail.tell_owner_when_committed(created)
    return created


@transaction.atomic
def withdraw_limit_request(*, limit_request: LimitRequest) -> LimitRequest:
    LimitRequest.objects.filter(pk=limit_request.pk, state=LimitRequest.State.PENDING).update(
        state=LimitRequest.State.WITHDRAWN, decided_at=timezone.now()
    )
    limit_request.refresh_from_db()
    return limit_request


@transaction.atomic
def decide_limit_request(
    *, limit_request: LimitRequest, approve: bool, by: User | None, note: str = ""
) -> bool:
    """An API owner's answer. Approval writes the subscription's overrides (one per window
    length, replacing an override of that length) and its quota; the gateway counts the
    next request against them. False when the request was no longer pending. The partner
    is mailed the answer once: only the call that moved it out of pending mails."""
    state = LimitRequest.State.APPROVED if approve else LimitRequest.State.REJECTED
    updated = LimitRequest.objects.filter(
        pk=limit_request.pk, state=LimitRequest.State.PENDING
    ).update(state=state, decided_at=timezone.now(), decided_by=by, decision_note=note)
    if updated != 1:
        return False
    limit_request_mail.tell_partner_when_committed(limit_request)
    if approve:
        subscription = Subscription.objects.select_for_update().get(
            pk=limit_request.subscription_id
        )
        _apply_windows(subscription, limit_request.windows)
        if limit_request.quota_requests is not None:
            subscription.quota_requests = limit_request.quota_requests
            subscription.save(update_fields=["quota_requests"])
    return True


def _apply_windows(subscription: Subscription, windows: list[dict[str, Any]]) -> None:
    existing = {o.window_seconds: o for o in subscription.rate_limits.all()}
    for window in windows:
        seconds = window_seconds(window["unit"], window["unit_multiplier"])
        override = existing.get(seconds) or SubscriptionRateLimit(subscription=subscription)
        override.requests = window["requests"]
        override.unit = window["unit"]
        override.unit_multiplier = window["unit_multiplier"]
        override.save()
