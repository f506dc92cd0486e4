"""The authorization server's signing keys: created, rotated, dropped, and opened to sign.

The schedule itself is arithmetic in mgmt.oauth.rotation; this module applies it to the
rows, one rotation at a time (an advisory lock on PostgreSQL), and seals every private
key with the install's sealing key the moment it exists.
"""

from datetime import datetime, timedelta
from typing import Final, NamedTuple

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from mgmt.oauth import jose, rotation
from mgmt.oauth.models import SigningKey
from mgmt.tls.sealing_key import sealing_key
from xds_server import sealing

# Clock skew a verifier allows past `exp`: a retired key outlives its last token by this.
LEEWAY: Final = timedelta(seconds=60)
# Arbitrary, fixed: the advisory lock held while the set of keys changes.
_ADVISORY_LOCK_KEY: Final = 0x0A17_5165


class Signer(NamedTuple):
    kid: str
    private_key: ec.EllipticCurvePrivateKey


class NoSigningKey(Exception):
    """No key may sign now (none could be made: the sealing key is missing)."""


def token_lifetime() -> timedelta:
    return timedelta(seconds=settings.TOLLGATE_OAUTH_TOKEN_SECONDS)


def sealed_name(kid: str) -> str:
    """What a key's sealed bytes are bound to: a sealed key copied to another kid won't open."""
    return f"oauth/{kid}"


def _lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])


def _create(*, now: datetime, signs_from: datetime) -> SigningKey:
    private_key = jose.new_private_key()
    jwk = jose.public_jwk(private_key.public_key())
    kid = jose.thumbprint(jwk)
    der = private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return SigningKey.objects.create(
        kid=kid,
        sealed_private_key=sealing.seal(sealing_key(), sealed_name(kid), der),
        public_jwk=jose.published_jwk(jwk, kid),
        created_at=now,
        signs_from=signs_from,
    )


@transaction.atomic
def rotate(*, now: datetime | None = None, force: bool = False) -> SigningKey | None:
    """A new key when none is current or the current one is older than the rotation period
    (or at once, with `force`); None when nothing was due. Raises NoSealingKey."""
    now = now or timezone.now()
    _lock()
    times = [key.times() for key in SigningKey.objects.all()]
    period = timedelta(days=settings.TOLLGATE_OAUTH_KEY_ROTATION_DAYS)
    if not force and not rotation.rotation_due(times, now, period=period):
        return None
    plan = rotation.plan_rotation(
        times, now, publish_delay=timedelta(seconds=settings.TOLLGATE_OAUTH_KEY_PUBLISH_SECONDS)
    )
    # The old keys' retirement is saved one by one, not by update(), so that the change
    # reaches the gateways through the same signal as every other key change.
    for key in SigningKey.objects.filter(retired_at__isnull=True):
        key.retired_at = plan.retire_at
        key.save(update_fields=["retired_at"])
    return _create(now=now, signs_from=plan.signs_from)


def ensure_key(*, now: datetime | None = None) -> None:
    """A first key, made on demand (a token request, the JWKS) so a fresh install works
    before the beat task first runs. Cheap when there is one."""
    if not SigningKey.objects.filter(retired_at__isnull=True).exists():
        rotate(now=now)


@transaction.atomic
def drop_expired(*, now: datetime | None = None) -> list[str]:
    """Deletes retired keys that no live token can name any more; their kids."""
    now = now or timezone.now()
    _lock()
    keys = list(SigningKey.objects.filter(retired_at__isnull=False))
    gone = rotation.droppable(
        [k.times() for k in keys], now, token_lifetime=token_lifetime(), leeway=LEEWAY
    )
    kids = {k.kid for k in gone}
    for key in keys:
        if key.kid in kids:
            key.delete()  # one by one: each delete publishes through the signal
    return sorted(kids)


def published_keys(now: datetime) -> list[SigningKey]:
    """The keys a verifier may need at `now`, sorted by kid."""
    keys = list(SigningKey.objects.order_by("kid"))
    keep = {
        k.kid
        for k in rotation.published(
            [k.times() for k in keys], now, token_lifetime=token_lifetime(), leeway=LEEWAY
        )
    }
    return [k for k in keys if k.kid in keep]


def jwks_json(now: datetime) -> str:
    return jose.jwks_document(key.public_jwk for key in published_keys(now))


def signer(now: datetime) -> Signer:
    """The key that signs at `now`, opened; the first key is made here if there is none."""
    ensure_key(now=now)
    keys = {key.kid: key for key in SigningKey.objects.all()}
    chosen = rotation.signer([key.times() for key in keys.values()], now)
    if chosen is None:
        raise NoSigningKey("no signing key may sign now")
    row = keys[chosen.kid]
    der = sealing.open_sealed(sealing_key(), sealed_name(row.kid), bytes(row.sealed_private_key))
    private_key = serialization.load_der_private_key(der, password=None)
    assert isinstance(private_key, ec.EllipticCurvePrivateKey)  # we sealed only these
    return Signer(row.kid, private_key)
