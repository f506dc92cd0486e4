"""Reads of caller identities: the compiler's rows (a fixed number of queries however many
rows: the snapshot is compiled on every change), and what a partner may see of their own
application's certificates and token clients (reached through mgmt.developers.selectors)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from mgmt.compiler.inputs import ClientCertificateRow, TokenClientRow, TokenIssuerRow
from mgmt.developers.errors import NotFound
from mgmt.gateway.models import Application
from mgmt.identity.models import ClientCertificate, TokenClient, TokenIssuer

# A revoked (or expired) credential stays in the snapshot this long, so that the gateway
# answers "revoked" rather than "unknown" to a caller who has not yet noticed.
KEEP_REVOKED = timedelta(days=1)


def _unix(moment: datetime | None) -> int:
    return int(moment.timestamp()) if moment is not None else 0


# --- the compiler's rows ----------------------------------------------------------------


def issuer_rows() -> tuple[TokenIssuerRow, ...]:
    """Enabled issuers by name, each with the sorted ids of the APIs that accept it.
    Two queries."""
    issuers = list(TokenIssuer.objects.filter(enabled=True).order_by("name"))
    api_ids: dict[int, list[int]] = {}
    through = TokenIssuer.apis.through.objects.filter(tokenissuer__enabled=True)
    for issuer_id, api_id in through.values_list("tokenissuer_id", "api_id"):
        api_ids.setdefault(issuer_id, []).append(api_id)
    return tuple(
        TokenIssuerRow(
            name=i.name,
            issuer=i.issuer,
            audiences=i.audience_list(),
            jwks_uri=i.jwks_uri,
            jwks_json=i.jwks_json if not i.jwks_uri else "",
            algorithms=i.algorithm_list(),
            leeway_seconds=i.leeway_seconds,
            client_claims=i.client_claim_list(),
            jwks_cache_seconds=i.jwks_cache_seconds,
            api_ids=tuple(sorted(api_ids.get(i.pk, ()))),
        )
        for i in issuers
    )


def _kept(now: datetime) -> Q:
    return Q(revoked_at__isnull=True) | Q(revoked_at__gte=now - KEEP_REVOKED)


def token_client_rows(now: datetime | None = None) -> tuple[TokenClientRow, ...]:
    """The clients of enabled issuers, one row per (issuer, client_id), sorted by both: the
    open mapping, or else the one revoked last if that was less than a day ago (so the
    gateway tells a revoked client from an unknown one). One query."""
    rows = (
        TokenClient.objects.filter(_kept(now or timezone.now()), issuer__enabled=True)
        .order_by("issuer__issuer", "client_id", F("revoked_at").desc(nulls_first=True), "-id")
        .values_list("issuer__issuer", "client_id", "application_id", "revoked_at")
    )
    found: dict[tuple[str, str], TokenClientRow] = {}
    for issuer, client_id, application_id, revoked_at in rows:
        found.setdefault(
            (issuer, client_id),
            TokenClientRow(
                issuer=issuer,
                client_id=client_id,
                application_id=application_id,
                revoked_at=_unix(revoked_at),
            ),
        )
    return tuple(found.values())


def client_certificate_rows(now: datetime | None = None) -> tuple[ClientCertificateRow, ...]:
    """One row per fingerprint, sorted by it: the registered certificate, or else the one
    revoked last if that was less than a day ago; certificates expired over a day ago are
    left out. One query."""
    now = now or timezone.now()
    rows = (
        ClientCertificate.objects.filter(_kept(now))
        .exclude(not_after__lt=now - KEEP_REVOKED)
        .order_by("fingerprint_sha256", F("revoked_at").desc(nulls_first=True), "-id")
        .values_list("fingerprint_sha256", "application_id", "not_after", "revoked_at")
    )
    found: dict[bytes, ClientCertificateRow] = {}
    for fingerprint, application_id, not_after, revoked_at in rows:
        digest = bytes(fingerprint)
        found.setdefault(
            digest,
            ClientCertificateRow(
                fingerprint_sha256=digest,
                application_id=application_id,
                expires_at=_unix(not_after),
                revoked_at=_unix(revoked_at),
            ),
        )
    return tuple(found.values())


# --- what a partner sees of their own application ------------------------------------------


def client_certificates(application: Application) -> QuerySet[ClientCertificate]:
    return ClientCertificate.objects.filter(application=application).order_by("-created_at", "-id")


def client_certificate(application: Application, certificate_id: int) -> ClientCertificate:
    found = client_certificates(application).filter(pk=certificate_id).first()
    if found is None:
        raise NotFound("no such client certificate")
    return found


def token_clients(application: Application) -> QuerySet[TokenClient]:
    return (
        TokenClient.objects.filter(application=application)
        .select_related("issuer")
        .order_by("issuer__name", "client_id", "-id")
    )
