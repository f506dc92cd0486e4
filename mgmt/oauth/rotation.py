"""When each signing key is published and when it signs: the rotation schedule as
arithmetic over key times, with no clock and no database.

A key is published (in the JWKS that gateways hold) from its creation; it signs from
`signs_from`, set one publication delay after creation so that every gateway holds it
before the first token it signs; it stops signing at `retired_at`, when its successor
starts; it stays published until the last token it signed has expired (retired_at +
token lifetime + leeway), and then may be dropped.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class KeyTimes:
    kid: str
    created_at: datetime
    signs_from: datetime
    retired_at: datetime | None = None


def is_published(
    key: KeyTimes, now: datetime, *, token_lifetime: timedelta, leeway: timedelta
) -> bool:
    """Still needed by a verifier: not retired, or a token it signed may still be live."""
    return key.retired_at is None or now < key.retired_at + token_lifetime + leeway


def published(
    keys: Iterable[KeyTimes], now: datetime, *, token_lifetime: timedelta, leeway: timedelta
) -> list[KeyTimes]:
    return [k for k in keys if is_published(k, now, token_lifetime=token_lifetime, leeway=leeway)]


def droppable(
    keys: Iterable[KeyTimes], now: datetime, *, token_lifetime: timedelta, leeway: timedelta
) -> list[KeyTimes]:
    """Retired keys no live token can name any more."""
    return [
        k for k in keys if not is_published(k, now, token_lifetime=token_lifetime, leeway=leeway)
    ]


def signer(keys: Iterable[KeyTimes], now: datetime) -> KeyTimes | None:
    """The key that signs at `now`: of those whose time has come and that are not retired,
    the one that started last. None when no key may sign yet."""
    candidates = [
        k for k in keys if k.signs_from <= now and (k.retired_at is None or now < k.retired_at)
    ]
    return max(candidates, key=lambda k: (k.signs_from, k.created_at), default=None)


def rotation_due(keys: Sequence[KeyTimes], now: datetime, *, period: timedelta) -> bool:
    """True when there is no key at all, or when the newest unretired key (the one signing,
    or waiting to) is older than the rotation period. A key still waiting to sign is never
    older than a period, so a rotation in progress is not started twice."""
    current = [k for k in keys if k.retired_at is None]
    if not current:
        return True
    newest = max(current, key=lambda k: k.created_at)
    return now - newest.created_at >= period


@dataclass(frozen=True, slots=True)
class Rotation:
    """What a rotation at `now` does: the new key's signing start, and the time every key
    still unretired is retired at (the same instant: one signer at a time)."""

    signs_from: datetime
    retire_at: datetime


def plan_rotation(keys: Sequence[KeyTimes], now: datetime, *, publish_delay: timedelta) -> Rotation:
    """A first key signs at once: no gateway can hold an older one, and nothing signed yet
    needs a gateway to hold this one in advance. A successor waits out the publication
    delay, and its predecessor signs until then."""
    if not any(k.retired_at is None for k in keys):
        return Rotation(signs_from=now, retire_at=now)
    return Rotation(signs_from=now + publish_delay, retire_at=now + publish_delay)
