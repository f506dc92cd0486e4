"""Leases: units of a subscription's limits reserved in Redis by one sidecar and admitted
from memory, so Redis is asked a few times a second instead of once per request.

Pure: no I/O, no clock (times are passed in). The sidecar's meter drives it.

Exactness. A lease's units were counted in Redis, against every window and the quota,
when they were granted (check.lua), and check.lua never grants more than half of what is
left beyond the request. So the sum of outstanding leases never exceeds what is left and
no limit is ever exceeded, across any number of sidecars. The price is under-admission:
units held by one sidecar are refused to another until they are used or given back. Bound:
at most `sidecars x max_lease` units, for at most `ttl_ms` (a lease unused by then is
given back); and never more than half of what is left (a lease near a limit is 0 extra).

Adaptation. A cold subscription gets no lease (every request is an exact check); a lease
grows with the subscription's arrival rate at this sidecar, to about `horizon_ms` worth of
its traffic, up to `max_lease`; near a limit check.lua shrinks it towards zero. A lease
half used is topped up ahead of time (a reservation of no call of its own), so under
steady traffic no request waits for Redis.

Refusals are remembered until the moment Redis said the request would fit, or for
`ttl_ms` if that is sooner (another sidecar may give units back meanwhile), so a flood is
refused from memory and asks Redis a few times a second; a changed limit is a new rule, with
no lease and no remembered refusal (envoyproxy/ratelimit #1077).
"""

from dataclasses import dataclass
from typing import Final

from ratelimit_svc.counters import Counter, PreparedRule
from ratelimit_svc.verdicts import Reading, ceil_seconds, policy_header, state_item

MAX_LEASE: Final = 256
LEASE_TTL_MS: Final = 250
# A lease aims at this much of the subscription's traffic at this sidecar.
HORIZON_MS: Final = 100
# Arrival rate estimation: counts per slot, smoothed over slots.
RATE_SLOT_MS: Final = 100


@dataclass(frozen=True, slots=True)
class Release:
    """Units of a lease to give back: release.lua's KEYS and ARGV (units and now first)."""

    units: int
    keys: tuple[str, ...]
    args: tuple[str, ...]


@dataclass(slots=True)
class _View:
    """One enforced counter as a lease shows it: remaining after the granting request, and
    when it is whole again (absolute ms)."""

    policy: str
    limit: int
    seconds: int
    remaining: int
    reset_at_ms: int
    # How much later the counter is whole again per unit taken (a sliding window's W/N;
    # 0 for buckets, whose reset does not move).
    unit_ms: float


@dataclass(slots=True)
class _Lease:
    units: int
    expires_ms: int
    release_keys: tuple[str, ...]
    release_args: tuple[str, ...]
    views: tuple[_View, ...]
    taken: int = 0  # units admitted since `views` were read
    # At or below this many units a top-up is asked for ahead of time (0: never).
    low_water: int = 0


class RuleState:
    """One rule's live state in this sidecar."""

    __slots__ = (
        "blocked_cost",
        "blocked_until_ms",
        "inflight",
        "lease",
        "policy",
        "quota_left",
        "rate",
        "refusal",
        "retry_at_ms",
        "rule",
        "slot_count",
        "slot_start_ms",
    )

    def __init__(self, rule: PreparedRule) -> None:
        self.rule = rule
        self.lease: _Lease | None = None
        self.blocked_until_ms = 0
        self.blocked_cost = 0
        self.retry_at_ms = 0  # when a remembered refusal's request would fit
        self.refusal = Refused(b"", None)
        self.policy = ""
        self.rate = 0.0  # arrivals per second at this sidecar, smoothed
        # What Redis last said was left of the quota (for the local limits when it is down).
        self.quota_left: int | None = None
        self.slot_start_ms = 0
        self.slot_count = 0
        # The meter's pending Redis check for this rule, if any: others wait for it.
        self.inflight: object | None = None


@dataclass(frozen=True, slots=True)
class Admitted:
    """Admitted: the RateLimit headers' values ("" when there are none to show), and the
    tightest limit's (limit, window seconds, remaining, reset seconds) for the draft-03
    x-ratelimit-* headers, when asked for."""

    policy: str
    state: str
    tightest: tuple[int, int, int, int] | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    """Refused: the 429 body, Retry-After (None: never fits) and the RateLimit headers'
    values as Redis last showed them ("" when there are none to show)."""

    body: bytes
    retry_after: int | None
    policy: str = ""
    state: str = ""


class LeaseBook:
    """Every rule's lease and remembered refusal in one sidecar."""

    def __init__(
        self,
        *,
        max_lease: int = MAX_LEASE,
        ttl_ms: int = LEASE_TTL_MS,
        horizon_ms: int = HORIZON_MS,
    ) -> None:
        self._states: dict[int, RuleState] = {}
        self._max_lease = max_lease
        self._ttl_ms = ttl_ms
        self._horizon_ms = horizon_ms

    def state(self, rule: PreparedRule) -> RuleState:
        state = self._states.get(id(rule))
        if state is None or state.rule is not rule:
            state = RuleState(rule)
            self._states[id(rule)] = state
        return state

    def arrive(self, state: RuleState, now_ms: int) -> None:
        """Count one request for the rule's arrival rate (which sizes its leases)."""
        if now_ms - state.slot_start_ms >= RATE_SLOT_MS:
            self._roll_rate(state, now_ms)
        state.slot_count += 1

    def take(
        self, state: RuleState, cost: int, now_ms: int, tightest: bool = False
    ) -> Admitted | Refused | None:
        """Admit `cost` units from the lease, or refuse from a remembered refusal; None:
        Redis must be asked."""
        if state.blocked_until_ms > now_ms and cost >= state.blocked_cost:
            refusal = state.refusal
            if refusal.retry_after is None:
                return refusal
            retry_after = max(1, ceil_seconds(state.retry_at_ms - now_ms))
            return Refused(refusal.body, retry_after, refusal.policy, refusal.state)
        lease = state.lease
        if lease is None or lease.units < cost or lease.expires_ms <= now_ms:
            return None
        lease.units -= cost
        lease.taken += cost
        return _admitted(state, lease, now_ms, tightest)

    def extra_wanted(self, state: RuleState, cost: int) -> int:
        """Units to ask beyond `cost`: about `horizon_ms` of this rule's traffic here."""
        # A top-up (cost 0) is sized as if for calls of one unit.
        wanted = int(state.rate * max(cost, 1) * self._horizon_ms / 1000)
        return max(0, min(self._max_lease - cost, wanted))

    def take_back(self, state: RuleState) -> Release | None:
        """End the rule's lease before asking Redis again: its leftovers to give back."""
        return self._drop_lease(state)

    def granted(
        self,
        state: RuleState,
        counters: list[Counter],
        readings: list[Reading],
        extra: int,
        now_ms: int,
    ) -> None:
        """Record what check.lua admitted: the request, and `extra` units of lease."""
        state.blocked_until_ms = 0
        if not state.policy:
            state.policy = policy_header(readings)
        state.lease = _Lease(
            units=extra,
            expires_ms=now_ms + self._ttl_ms,
            release_keys=tuple(c.limit_of.key for c in counters),
            release_args=_release_args(counters),
            views=_views(state, readings, now_ms, held=0),
            low_water=extra // 2,
        )

    def needs_top_up(self, state: RuleState) -> bool:
        """Whether the lease is down to its low water (and no Redis call is pending)."""
        lease = state.lease
        return (
            lease is not None
            and state.inflight is None
            and lease.low_water > 0
            and lease.units <= lease.low_water
        )

    def topped_up(
        self,
        state: RuleState,
        counters: list[Counter],
        readings: list[Reading],
        extra: int,
        now_ms: int,
    ) -> Release | None:
        """Add what a reservation of no call of its own (hits 0) was granted to the lease.

        Returns the units to give back at once when the lease ended meanwhile.
        """
        lease = state.lease
        if lease is None:
            if extra <= 0:
                return None
            return Release(extra, tuple(c.limit_of.key for c in counters), _release_args(counters))
        if extra <= 0:
            lease.low_water = 0  # nothing more to have: no more asking until it runs out
            return None
        held = lease.units
        lease.units = held + extra
        lease.taken = 0
        lease.expires_ms = now_ms + self._ttl_ms
        lease.release_args = _release_args(counters)
        lease.views = _views(state, readings, now_ms, held=held)
        lease.low_water = extra // 2
        return None

    def admitted_headers(self, state: RuleState, now_ms: int, tightest: bool = False) -> Admitted:
        """The headers of the request admitted by the check that just granted the lease."""
        lease = state.lease
        assert lease is not None
        return _admitted(state, lease, now_ms, tightest)

    def refused(
        self, state: RuleState, cost: int, refusal: Refused, until_ms: int, now_ms: int
    ) -> None:
        """Remember a refusal of `cost` units (or more) until `until_ms`, or `ttl_ms` from now
        if sooner (no Retry-After: for as long as the rule lives, the cost exceeding the
        limit itself)."""
        state.blocked_cost = cost
        state.refusal = refusal
        if not state.policy:
            state.policy = refusal.policy
        if refusal.retry_after is None:
            state.blocked_until_ms = 2**62
        else:
            state.blocked_until_ms = min(until_ms, now_ms + self._ttl_ms)
            state.retry_at_ms = until_ms

    def expired(self, now_ms: int) -> list[Release]:
        """Give back every lease past its time, and forget rules not seen for a while."""
        releases: list[Release] = []
        for key, state in list(self._states.items()):
            lease = state.lease
            if lease is not None and lease.expires_ms <= now_ms:
                release = self._drop_lease(state)
                if release is not None:
                    releases.append(release)
            idle = now_ms - state.slot_start_ms > 10 * self._ttl_ms + RATE_SLOT_MS
            if state.lease is None and idle and state.blocked_until_ms <= now_ms:
                del self._states[key]
        return releases

    def forget(self, keep: set[int]) -> list[Release]:
        """Drop the states of rules that are no longer live (a changed limit is a new rule),
        giving their leases back."""
        releases = []
        for key in [k for k in self._states if k not in keep]:
            release = self._drop_lease(self._states.pop(key))
            if release is not None:
                releases.append(release)
        return releases

    def outstanding(self) -> int:
        """Units held in leases right now (for metrics and tests)."""
        return sum(s.lease.units for s in self._states.values() if s.lease is not None)

    @staticmethod
    def _drop_lease(state: RuleState) -> Release | None:
        lease = state.lease
        state.lease = None
        if lease is None or lease.units <= 0:
            return None
        return Release(lease.units, lease.release_keys, lease.release_args)

    @staticmethod
    def _roll_rate(state: RuleState, now_ms: int) -> None:
        elapsed = now_ms - state.slot_start_ms
        observed = state.slot_count * 1000 / elapsed
        if elapsed >= 2 * RATE_SLOT_MS:
            state.rate = observed  # idle slots count as silence
        else:
            state.rate = 0.5 * state.rate + 0.5 * observed
        state.slot_start_ms = now_ms
        state.slot_count = 0


def _admitted(state: RuleState, lease: _Lease, now_ms: int, tightest: bool) -> Admitted:
    header = _state_header(lease, now_ms)
    if not tightest or not lease.views:
        return Admitted(state.policy, header)
    taken = lease.taken
    view = min(lease.views, key=lambda v: v.remaining)
    return Admitted(
        state.policy,
        header,
        (
            view.limit,
            view.seconds,
            max(0, view.remaining - taken),
            _reset_seconds(view, taken, now_ms),
        ),
    )


def _views(state: RuleState, readings: list[Reading], now_ms: int, held: int) -> tuple[_View, ...]:
    """The enforced counters as the lease shows them. `held`: units this sidecar still holds
    from an earlier grant, counted in Redis but still the client's to use."""
    views = []
    for r in readings:
        counter = r.counter
        if counter.shadow:
            continue
        unit_ms = counter.seconds * 1000 / counter.limit if counter.paced else 0.0
        views.append(
            _View(
                counter.limit_of.policy,
                counter.limit,
                counter.seconds,
                min(counter.limit, r.remaining + held),
                max(now_ms, now_ms + r.reset_ms - int(held * unit_ms)),
                unit_ms,
            )
        )
        if counter.period is not None:
            state.quota_left = r.remaining + held
    return tuple(views)


def _reset_seconds(view: _View, taken: int, now_ms: int) -> int:
    """Seconds until the counter is whole again, the units taken from the lease included."""
    return ceil_seconds(
        min(view.seconds * 1000, int(view.reset_at_ms + taken * view.unit_ms) - now_ms)
    )


def _state_header(lease: _Lease, now_ms: int) -> str:
    taken = lease.taken
    return ", ".join(
        state_item(v.policy, max(0, v.remaining - taken), _reset_seconds(v, taken, now_ms))
        for v in lease.views
    )


def _release_args(counters: list[Counter]) -> tuple[str, ...]:
    """release.lua's per-counter arguments: the bucket the lease went into, and the GCRA
    interval of a sliding window ('0' for buckets only)."""
    args: list[str] = []
    for counter in counters:
        interval = "0"
        if counter.paced:
            interval = repr(counter.seconds * 1000 / counter.limit)
        args += (str(counter.current), interval)
    return tuple(args)
