"""The fold job: moves closed per-minute usage hashes from Redis into the rollup tables.

One run: finish what killed workers left claimed, claim and apply every closed minute's
usage and cover hash, then apply the keys' last-used times. Why each hash counts exactly
once:

1. A closed hash is claimed by an atomic RENAME to a folding key with a fresh token, so
   of two workers only one gets it; the collector's later writes for that minute make a
   new hash, folded later as another batch (late data adds).
2. A claimed hash is applied in one transaction that also inserts its FoldBatch (unique
   batch id = the folding key's name): committed together or not at all.
3. The folding key is deleted only after that commit. A worker killed before the commit
   leaves the key and no FoldBatch (the next run applies it); killed after, the key and
   its FoldBatch (the next run only deletes it).
4. Two runs finishing the same leftover key: their transactions are serialized and the
   second finds the FoldBatch (or fails on its unique id) and changes nothing.
5. Last-used times are applied with max semantics (only ever moved forward): applying a
   leftover twice changes nothing, so it needs no FoldBatch.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from mgmt.analytics import fold_rows, fold_store
from mgmt.analytics.claims import COVER, LAST_USED, USAGE, Claim, closed_minutes, new_claim
from mgmt.analytics.fold_redis import UsageRedis

log = logging.getLogger(__name__)


@dataclass(slots=True)
class FoldReport:
    batches: int = 0  # claimed hashes applied now
    already_applied: int = 0  # leftover keys whose batch had committed before
    leftovers: int = 0  # claimed keys found at the start (killed or concurrent workers)
    rows: int = 0  # usage rows (dims) in the applied batches
    skipped_fields: int = 0  # malformed fields, left out
    keys_updated: int = 0  # API keys whose last_used_at moved forward

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def run(store: UsageRedis, *, now: float, settle_seconds: int) -> FoldReport:
    """One fold at unix time `now`; minutes that ended less than `settle_seconds` ago wait."""
    report = FoldReport()
    leftovers = store.claimed()
    report.leftovers = len(leftovers)
    for claim in leftovers:
        _finish(store, claim, report, now=now)
    for kind, minute in store.closed(closed_minutes(now, settle_seconds=settle_seconds)):
        claim = new_claim(kind, minute)
        if store.claim(claim):
            _finish(store, claim, report, now=now)
    claim = new_claim(LAST_USED)
    if store.claim(claim):
        _finish(store, claim, report, now=now)
    if report.skipped_fields:
        log.warning("fold skipped %d malformed usage fields", report.skipped_fields)
    return report


def _finish(store: UsageRedis, claim: Claim, report: FoldReport, *, now: float) -> None:
    """Applies a claimed hash (unless its batch already committed), then releases it."""
    if claim.kind != LAST_USED and fold_store.is_applied(claim.batch_id):
        report.already_applied += 1
        store.finish(claim)
        return
    raw = store.read(claim)
    if not raw:
        # Gone: finished by another worker since we listed it, or expired unclaimed.
        store.finish(claim)
        return
    applied = True
    if claim.kind == USAGE:
        usage = fold_rows.parse_usage(raw)
        report.skipped_fields += usage.skipped
        applied = fold_store.apply_usage(
            batch_id=claim.batch_id, minute=claim.minute, rows=usage.rows
        )
        if applied:
            report.rows += len(usage.rows)
    elif claim.kind == COVER:
        cover = fold_rows.parse_cover(raw)
        report.skipped_fields += cover.skipped
        applied = fold_store.apply_cover(
            batch_id=claim.batch_id, minute=claim.minute, seconds=cover.seconds
        )
    else:
        last_used = fold_rows.parse_last_used(raw, now=int(now))
        report.skipped_fields += last_used.skipped
        report.keys_updated += fold_store.apply_last_used(last_used.used)
    if applied:
        report.batches += 1
    else:
        report.already_applied += 1
    store.finish(claim)
