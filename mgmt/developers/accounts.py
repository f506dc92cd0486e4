"""Accounts: sign-up with a new organization (or an invitation), email verification,
signing in, personal access tokens for scripts, invitations and members."""

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.text import slugify

from mgmt.developers import tokens
from mgmt.developers.errors import (
    BadCredentials,
    EmailNotVerified,
    InvalidInput,
    NotPermitted,
    invalid,
)
from mgmt.gateway.models import (
    AccessToken,
    DeveloperAccount,
    Invitation,
    Membership,
    Organization,
    Role,
)

log = logging.getLogger(__name__)

_VERIFY_SALT = "tollgate.developers.verify-email"
VERIFICATION_MAX_AGE = timedelta(days=3)
INVITATION_LIFETIME = timedelta(days=7)
MAX_TOKEN_LIFETIME = timedelta(days=365)
# A token's "last used" moves at most once a minute: one write per script run, not per call.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


def normalize_email(email: str) -> str:
    """One spelling per address: the account's username, compared case-insensitively."""
    return email.strip().lower()


def _send_after_commit(to: str, template: str, context: dict[str, object]) -> None:
    """Mail leaves only once the rows it speaks of exist; a mail server that is down loses
    the account nothing (the address can ask for the mail again)."""

    def send() -> None:
        subject = render_to_string(f"developers/email/{template}_subject.txt", context).strip()
        body = render_to_string(f"developers/email/{template}_body.txt", context)
        try:
            EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [to]).send()
        except Exception:
            log.warning("could not send the %s mail", template, exc_info=True)

    transaction.on_commit(send)


def _link(path: str) -> str:
    return settings.TOLLGATE_PUBLIC_URL.rstrip("/") + path


# Where a mailed link lands. Its secret rides in the fragment (`#…`), which browsers send
# to no server and put in no Referer, so no access log holds it; the page posts it in the
# body. The mail gives the code too, for pasting on the page without the link.
VERIFY_PAGE = "/portal/verify"
RESET_PAGE = "/portal/password-reset/confirm"
INVITATION_PAGE = "/portal/invitations/accept"


def _mailed_link(page: str, secret: str) -> dict[str, str]:
    return {"link": _link(f"{page}#{secret}"), "page": _link(page), "code": secret}


# --- sign-up and verification -----------------------------------------------------------


def verification_token(user: User) -> str:
    return signing.dumps({"u": user.pk, "e": user.email}, salt=_VERIFY_SALT, compress=True)


def _send_verification(user: User) -> None:
    token = verification_token(user)
    _send_after_commit(user.email, "verify", {"user": user, **_mailed_link(VERIFY_PAGE, token)})


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50].strip("-") or "org"
    slug = base
    while Organization.objects.filter(slug=slug).exists():
        slug = f"{base}-{secrets.token_hex(3)}"
    return slug


def _check_password(password: str, user: User) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput({"password": list(exc.messages)}) from None


@dataclass(frozen=True, slots=True)
class SignedUp:
    user: User
    organization: Organization | None
    verified: bool


@transaction.atomic
def sign_up(
    *,
    email: str,
    password: str,
    name: str = "",
    organization_name: str = "",
    invitation_token: str = "",
) -> SignedUp:
    """A new account with an organization of its own (its owner), or joining the one an
    invitation names. An invitation proves the address, so it needs no verification mail."""
    email = normalize_email(email)
    invitation = _open_invitation(invitation_token) if invitation_token else None
    if invitation is not None and normalize_email(invitation.email) != email:
        raise invalid("email", "this invitation was sent to another address")
    if invitation is None and not organization_name.strip():
        raise invalid("organization_name", "name the organization you sign up for")
    _forget_unverified(email)
    if User.objects.filter(username=email).exists():
        raise invalid("email", "an account with this address exists; log in instead")
    user = User(username=email, email=email, first_name=name.strip()[:150])
    _check_password(password, user)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # the same address signing up twice at once
        raise invalid("email", "an account with this address exists; log in instead") from None
    now = timezone.now()
    DeveloperAccount.objects.create(
        user=user, email_verified_at=now if invitation is not None else None
    )
    organization = None
    if invitation is not None:
        _join(user, invitation, now)
    else:
        organization = _create_organization(organization_name.strip(), email)
        Membership.objects.create(user=user, organization=organization, role=Role.OWNER)
        _send_verification(user)
    return SignedUp(user, organization, invitation is not None)


def _forget_unverified(email: str) -> None:
    """An account whose address was never confirmed gives way to a new sign-up for that
    address: whoever made it never proved the address, so it must not keep it from its
    owner (nor keep a password the owner did not choose). It could not sign in, so it
    did nothing; the organization it made goes with it when no one else is in it."""
    stale = User.objects.filter(
        username=email,
        developer_account__email_verified_at__isnull=True,
        is_staff=False,
        is_superuser=False,
    ).first()
    if stale is None:
        return
    for membership in Membership.objects.filter(user=stale).select_related("organization"):
        organization = membership.organization
        alone = not organization.memberships.exclude(user=stale).exists()
        unused = not organization.applications.exists() and not organization.apis.exists()
        if alone and unused and not organization.products.exists():
            organization.delete()
    stale.delete()


def _create_organization(name: str, contact_email: str) -> Organization:
    if Organization.objects.filter(name__iexact=name).exists():
        raise invalid("organization_name", "an organization of this name exists already")
    try:
        with transaction.atomic():
            return Organization.objects.create(
                name=name[:200], slug=_unique_slug(name), contact_email=contact_email
            )
    except IntegrityError:
        raise invalid("organization_name", "an organization of this name exists already") from None


def verify_email(*, token: str) -> User:
    """Confirms the address a token was mailed to; using a link twice is harmless."""
    try:
        payload = signing.loads(token, salt=_VERIFY_SALT, max_age=VERIFICATION_MAX_AGE)
    except signing.SignatureExpired:
        raise BadCredentials("this verification link has expired: ask for a new one") from None
    except signing.BadSignature:
        raise BadCredentials("this verification link is not valid") from None
    user = User.objects.filter(pk=payload.get("u"), email=payload.get("e")).first()
    if user is None:
        raise BadCredentials("this verification link is not valid")
    DeveloperAccount.objects.filter(user=user, email_verified_at__isnull=True).update(
        email_verified_at=timezone.now()
    )
    return user


def resend_verification(*, email: str) -> None:
    """Mails a new link if the address has an unverified account; says nothing either way."""
    user = User.objects.filter(
        username=normalize_email(email), developer_account__email_verified_at__isnull=True
    ).first()
    if user is not None:
        with transaction.atomic():
            _send_verification(user)


def log_in(*, email: str, password: str) -> User:
    """The account for these credentials, verified; one message for any wrong pair."""
    user = authenticate(username=normalize_email(email), password=password)
    if not isinstance(user, User):
        raise BadCredentials("wrong email or password")
    account = DeveloperAccount.objects.filter(user=user).first()
    if account is not None and not account.email_verified:
        raise EmailNotVerified(
            "confirm your email address first: follow the link we mailed you, or ask for a new one"
        )
    return user


# --- password reset ---------------------------------------------------------------------


def request_password_reset(*, email: str) -> None:
    """Mails a reset link if the address has a verified, active account; says nothing
    either way. An unverified account has nothing to reset: it can sign up afresh."""
    user = User.objects.filter(
        username=normalize_email(email),
        is_active=True,
        developer_account__email_verified_at__isnull=False,
    ).first()
    if user is None:
        return
    code = reset_code(
        uid=urlsafe_base64_encode(force_bytes(user.pk)),
        token=default_token_generator.make_token(user),
    )
    with transaction.atomic():
        _send_after_commit(
            user.email, "password_reset", {"user": user, **_mailed_link(RESET_PAGE, code)}
        )


def reset_code(*, uid: str, token: str) -> str:
    """The one string a reset mail gives: the account's uid and Django's token, joined by
    a dot (neither alphabet has one)."""
    return f"{uid}.{token}"


def split_reset_code(code: str) -> tuple[str, str]:
    """(uid, token) of a reset code; a malformed one is a bad link like any other."""
    uid, dot, token = code.strip().partition(".")
    if not dot or not uid or not token:
        raise BadCredentials("this reset link is not valid or has expired: ask for a new one")
    return uid, token


def _reset_target(uid: str, token: str) -> User:
    try:
        pk = int(urlsafe_base64_decode(uid).decode())
    except (ValueError, UnicodeDecodeError):
        raise BadCredentials("this reset link is not valid") from None
    user = User.objects.filter(pk=pk, is_active=True).first() if 0 < pk < 2**63 else None
    # Django's token hashes the password and the last log-in: it dies with either change,
    # so a link works once, and the timeout (PASSWORD_RESET_TIMEOUT) bounds it.
    if user is None or not default_token_generator.check_token(user, token):
        raise BadCredentials("this reset link is not valid or has expired: ask for a new one")
    return user


@transaction.atomic
def reset_password(*, uid: str, token: str, password: str) -> User:
    """A new password from a mailed link. Every personal access token of the account is
    revoked and every session ends (Django checks the password hash per session): whoever
    held the old password holds nothing now."""
    user = _reset_target(uid, token)
    _check_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    AccessToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
    return user


# --- personal access tokens -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssuedAccessToken:
    access_token: AccessToken
    secret: str


@transaction.atomic
def create_access_token(
    *, user: User, label: str = "", lifetime: timedelta = timedelta(days=90)
) -> IssuedAccessToken:
    if not timedelta(minutes=1) <= lifetime <= MAX_TOKEN_LIFETIME:
        raise invalid("expires_in_days", "a token lives from 1 minute to 365 days")
    issued = tokens.issue_access_token()
    token = AccessToken.objects.create(
        user=user,
        label=label[:100],
        token_id=issued.token_id,
        token_hash=issued.token_hash,
        expires_at=timezone.now() + lifetime,
    )
    return IssuedAccessToken(token, issued.secret)


def user_for_access_token(presented: str, now: datetime | None = None) -> User | None:
    """The user a presented token belongs to, if it is well formed, known, and usable."""
    token_id = tokens.access_token_id(presented)
    if token_id is None:
        return None
    token = AccessToken.objects.select_related("user").filter(token_id=token_id).first()
    if token is None or not tokens.matches(presented, bytes(token.token_hash)):
        return None
    now = now or timezone.now()
    if not token.is_usable(now) or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > _LAST_USED_RESOLUTION:
        AccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def revoke_access_token(*, token: AccessToken) -> None:
    AccessToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


# --- invitations and members ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssuedInvitation:
    invitation: Invitation
    token: str


@transaction.atomic
def invite(*, organization: Organization, by: User, email: str, role: str) -> IssuedInvitation:
    email = normalize_email(email)
    if role not in Role.values:
        raise invalid("role", f"one of {', '.join(Role.values)}")
    if Membership.objects.filter(organization=organization, user__username=email).exists():
        raise invalid("email", "this address is a member already")
    now = timezone.now()
    if Invitation.objects.filter(
        organization=organization,
        email=email,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=now,
    ).exists():
        raise invalid("email", "this address has an open invitation; revoke it to send another")
    token, token_hash = tokens.issue_invitation_token()
    invitation = Invitation.objects.create(
        organization=organization,
        email=email,
        role=role,
        token_hash=token_hash,
        invited_by=by,
        expires_at=now + INVITATION_LIFETIME,
    )
    _send_after_commit(
        email,
        "invitation",
        {
            "invitation": invitation,
            "inviter": by.get_full_name() or by.get_username(),
            **_mailed_link(INVITATION_PAGE, token),
        },
    )
    return IssuedInvitation(invitation, token)


def _open_invitation(token: str) -> Invitation:
    invitation = (
        Invitation.objects.select_for_update()
        .select_related("organization")
        .filter(token_hash=tokens.digest(token))
        .first()
    )
    if invitation is None or not invitation.is_open():
        raise invalid("invitation_token", "this invitation is not valid (used, revoked or expired)")
    return invitation


def _join(user: User, invitation: Invitation, now: datetime) -> Membership:
    updated = Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(
        accepted_at=now, accepted_by=user
    )
    if updated != 1:
        raise invalid("invitation_token", "this invitation was used meanwhile")
    membership, _ = Membership.objects.get_or_create(
        user=user, organization=invitation.organization, defaults={"role": invitation.role}
    )
    return membership


@transaction.atomic
def accept_invitation(*, user: User, token: str) -> Membership:
    invitation = _open_invitation(token)
    if normalize_email(invitation.email) != normalize_email(user.email):
        raise invalid("token", "this invitation was sent to another address")
    now = timezone.now()
    # The invitation reached this address, which proves it as well as our own mail would.
    DeveloperAccount.objects.get_or_create(user=user)
    DeveloperAccount.objects.filter(user=user, email_verified_at__isnull=True).update(
        email_verified_at=now
    )
    return _join(user, invitation, now)


def revoke_invitation(*, invitation: Invitation) -> None:
    Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def _other_owners(membership: Membership) -> bool:
    return (
        Membership.objects.filter(organization_id=membership.organization_id, role=Role.OWNER)
        .exclude(pk=membership.pk)
        .exists()
    )


def _lock_members(membership: Membership) -> Membership:
    """The organization's row locked first: two owners demoting each other at once are
    served one after the other, so the second sees the first's change."""
    Organization.objects.select_for_update().filter(pk=membership.organization_id).first()
    return Membership.objects.select_for_update().get(pk=membership.pk)


@transaction.atomic
def change_role(*, membership: Membership, role: str) -> Membership:
    if role not in Role.values:
        raise invalid("role", f"one of {', '.join(Role.values)}")
    locked = _lock_members(membership)
    if locked.role == Role.OWNER and role != Role.OWNER and not _other_owners(locked):
        raise invalid("role", "an organization keeps at least one owner")
    locked.role = role
    locked.save(update_fields=["role"])
    return locked


@transaction.atomic
def remove_member(*, membership: Membership) -> None:
    locked = _lock_members(membership)
    if locked.role == Role.OWNER and not _other_owners(locked):
        raise NotPermitted("an organization keeps at least one owner: name another one first")
    locked.delete()
