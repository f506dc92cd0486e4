"""mgmt's copy of the sealing key (TOLLGATE_SECRETS_KEY_FILE), shared with xds_server."""

from collections.abc import Sequence

from django.conf import settings

from mgmt.compiler.inputs import CertificateRow, UpstreamRow
from mgmt.compiler.tls import secret_name
from mgmt.compiler.upstream_tls import client_secret_name
from xds_server import sealing


class NoSealingKey(Exception):
    """No key configured, or one that is not a key: a certificate cannot be stored."""


def sealing_key() -> bytes:
    path = settings.TOLLGATE_SECRETS_KEY_FILE
    if path is None:
        raise NoSealingKey(
            "TOLLGATE_SECRETS_KEY_FILE is not set: private keys are stored sealed, and "
            "xds_server needs the same key file to serve them"
        )
    try:
        key = sealing.read_sealing_key(path)
    except sealing.SealingError as exc:
        raise NoSealingKey(str(exc)) from None
    assert key is not None  # a path was given
    return key


def unopenable(
    certificates: Sequence[CertificateRow], upstreams: Sequence[UpstreamRow] = ()
) -> list[str]:
    """Sealed keys xds_server would not open with this key file (it was changed or lost),
    the server certificates' and the upstreams' client certificates': refused here, where the
    API owner sees why, rather than by xds_server."""
    sealed = [
        (f'certificate "{row.name}"', secret_name(row.name), row.sealed_key)
        for row in certificates
        if not row.chain_file  # a key file is Envoy's to read
    ]
    sealed += [
        (
            f'upstream "{u.name}" (TLS client certificate)',
            client_secret_name(u.id),
            u.tls.client_sealed_key,
        )
        for u in upstreams
        if u.tls is not None and u.tls.client_sealed_key
    ]
    if not sealed:
        return []
    try:
        key = sealing_key()
    except NoSealingKey as exc:
        return [f"TLS certificates are configured but their keys cannot be served: {exc}"]
    errors = []
    for what, name, sealed_key in sealed:
        try:
            sealing.open_sealed(key, name, sealed_key)
        except sealing.SealingError:
            errors.append(
                f"{what}: its private key does not open with "
                "TOLLGATE_SECRETS_KEY_FILE (was the key file replaced?); upload it again"
            )
    return errors
