"""Writes of caller identities. Each is one transaction; the snapshot that carries it is
published when it commits (mgmt.identity.signals).

Partners register and revoke client certificates (refusals as mgmt.developers.errors, which
the developer API and portal show on the field at fault). Issuers and their clients are
the API owners' (refusals as Django's ValidationError, as admin shows them).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from mgmt.developers.errors import InvalidInput, invalid
from mgmt.gateway.models import Api, Application
from mgmt.identity.client_cert_checks import (
    CERTIFICATE,
    FINGERPRINT,
    ClientCertificateProblem,
    check_client_certificate,
    parse_fingerprint,
)
from mgmt.identity.models import ClientCertificate, TokenClient, TokenIssuer

# Working certificates per application: enough for a fleet's rotation, bounded per snapshot.
MAX_OPEN_CERTIFICATES_PER_APPLICATION = 20
TAKEN = "this certificate is registered already; revoke it there first"


# --- client certificates (partners) ------------------------------------------------------


@transaction.atomic
def register_client_certificate(
    *,
    application: Application,
    name: str = "",
    certificate_pem: str = "",
    fingerprint: str = "",
    now: datetime | None = None,
) -> ClientCertificate:
    """Registers a certificate, given as PEM or by its SHA-256 fingerprint (exactly one)."""
    now = now or timezone.now()
    if bool(certificate_pem.strip()) == bool(fingerprint.strip()):
        message = "give either the certificate (PEM) or its SHA-256 fingerprint, not both"
        raise InvalidInput({CERTIFICATE: [message], FINGERPRINT: [message]})
    field = CERTIFICATE if certificate_pem.strip() else FINGERPRINT
    row = ClientCertificate(application=application, name=name)
    try:
        if field == CERTIFICATE:
            checked = check_client_certificate(certificate_pem, now=now)
            row.fingerprint_sha256 = checked.fingerprint_sha256
            row.subject = checked.subject
            row.not_after = checked.not_after
            row.certificate_pem = checked.pem
        else:
            row.fingerprint_sha256 = parse_fingerprint(fingerprint)
    except ClientCertificateProblem as problem:
        raise invalid(problem.field, str(problem)) from None
    _check_room(application, now, field)
    if ClientCertificate.objects.filter(
        fingerprint_sha256=row.fingerprint_sha256, revoked_at__isnull=True
    ).exists():
        raise invalid(field, TAKEN)
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:  # registered by someone else meanwhile
        raise invalid(field, TAKEN) from None
    return row


def _check_room(application: Application, now: datetime, field: str) -> None:
    # The application's row lock makes two concurrent registrations count one another.
    Application.objects.select_for_update().filter(pk=application.pk).first()
    working = application.client_certificates.filter(revoked_at__isnull=True).exclude(
        not_after__lt=now
    )
    if working.count() >= MAX_OPEN_CERTIFICATES_PER_APPLICATION:
        raise invalid(
            field,
            f"an application holds at most {MAX_OPEN_CERTIFICATES_PER_APPLICATION} working "
            "client certificates: revoke one first",
        )


@transaction.atomic
def revoke_client_certificate(
    *, certificate: ClientCertificate, at: datetime | None = None
) -> ClientCertificate:
    """Takes effect with the next snapshot (seconds); never undone; twice is harmless."""
    locked = ClientCertificate.objects.select_for_update().get(pk=certificate.pk)
    if locked.revoked_at is None:
        locked.revoked_at = at or timezone.now()
        locked.save(update_fields=["revoked_at"])
    certificate.revoked_at = locked.revoked_at
    return certificate


# --- token issuers and their clients (API owners) ----------------------------------------


@transaction.atomic
def create_token_issuer(*, apis: Iterable[Api] = (), **fields: Any) -> TokenIssuer:
    """An issuer from model field values (name, issuer, audiences, jwks_uri or jwks_json,
    ...), checked as admin checks it (ValidationError otherwise)."""
    issuer = TokenIssuer(**fields)
    issuer.full_clean()
    issuer.save()
    issuer.apis.set(list(apis))
    return issuer


@transaction.atomic
def map_token_client(
    *, issuer: TokenIssuer, client_id: str, application: Application
) -> TokenClient:
    """The issuer's client `client_id` acts as `application` (ValidationError when it is
    mapped already and not revoked)."""
    client = TokenClient(issuer=issuer, client_id=client_id, application=application)
    client.full_clean()
    client.save()
    return client


@transaction.atomic
def revoke_token_client(*, client: TokenClient, at: datetime | None = None) -> TokenClient:
    """Its tokens are refused from the next snapshot on; never undone."""
    locked = TokenClient.objects.select_for_update().get(pk=client.pk)
    if locked.revoked_at is None:
        locked.revoked_at = at or timezone.now()
        locked.save(update_fields=["revoked_at"])
    client.revoked_at = locked.revoked_at
    return client
