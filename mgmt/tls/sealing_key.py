"""mgmt's copy of the sealing key (TOLLGATE_SECRETS_KEY_FILE), shared with xds_server."""

from django.conf import settings

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
