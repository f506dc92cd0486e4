"""Sealed private keys: open only with the same key, under the same name, unaltered."""

from __future__ import annotations

from pathlib import Path

import pytest

from xds_server import sealing

KEY = sealing.parse_key(sealing.new_key_text())
PEM = (
    b"-----BEGIN PRIVATE KEY-----\n"
    b"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n"
    b"-----END PRIVATE KEY-----\n"
)


def test_a_sealed_key_opens_under_its_name_and_holds_no_clear_text() -> None:
    sealed = sealing.seal(KEY, "tls/api", PEM)
    assert sealing.is_sealed(sealed)
    assert b"PRIVATE KEY" not in sealed and PEM[30:60] not in sealed
    assert sealing.open_sealed(KEY, "tls/api", sealed) == PEM
    assert sealing.seal(KEY, "tls/api", PEM) != sealed  # a fresh nonce each time


@pytest.mark.parametrize(
    ("key", "name", "alter"),
    [
        (sealing.parse_key(sealing.new_key_text()), "tls/api", False),  # another key
        (KEY, "tls/other", False),  # copied under another certificate's name
        (KEY, "tls/api", True),  # one bit flipped
    ],
    ids=["other-key", "other-name", "tampered"],
)
def test_a_sealed_key_does_not_open_otherwise(key: bytes, name: str, alter: bool) -> None:
    sealed = bytearray(sealing.seal(KEY, "tls/api", PEM))
    if alter:
        sealed[-1] ^= 1
    with pytest.raises(sealing.SealingError, match="does not open"):
        sealing.open_sealed(key, name, bytes(sealed))


def test_clear_bytes_are_not_sealed_bytes() -> None:
    assert not sealing.is_sealed(PEM)
    with pytest.raises(sealing.SealingError, match="not sealed"):
        sealing.open_sealed(KEY, "tls/api", PEM)


@pytest.mark.parametrize(
    ("text", "message"),
    [("not base64!", "not base64"), ("c2hvcnQ=", "must be 32 bytes, got 5")],
)
def test_a_bad_key_file_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "secrets.key"
    path.write_text(text)
    with pytest.raises(sealing.SealingError, match=message):
        sealing.read_sealing_key(path)
    with pytest.raises(sealing.SealingError, match="cannot read"):
        sealing.read_sealing_key(tmp_path / "missing.key")
    assert sealing.read_sealing_key(None) is None


def test_a_key_file_with_its_newline_reads() -> None:
    text = sealing.new_key_text()
    assert sealing.parse_key(text + "\n") == sealing.parse_key(text)
