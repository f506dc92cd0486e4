"""Standard Webhooks signing: the spec's published vector, an independently computed one,
rotation, and everything a receiver must refuse."""

import base64
import hashlib
import hmac

import pytest

from mgmt.billing.webhook_signing import (
    headers,
    new_secret,
    secret_bytes,
    sign,
    verify,
)

pytestmark = pytest.mark.pure

KEY = bytes(range(32))
SECRET = "whsec_" + base64.b64encode(KEY).decode()
OLD_SECRET = "whsec_" + base64.b64encode(bytes(range(100, 132))).decode()
MSG_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
NOW = 1_700_000_000
BODY = b'{"type":"invoice.finalized","data":{"id":"inv_1"}}'


def test_published_test_vector_of_the_reference_library() -> None:
    # standard-webhooks/standard-webhooks, libraries/python/tests/test_webhooks.py
    signature = sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_is_hmac_sha256_of_id_timestamp_body() -> None:
    content = f"{MSG_ID}.{NOW}.".encode() + BODY
    mac = hmac.new(KEY, content, hashlib.sha256).digest()
    assert sign(SECRET, MSG_ID, NOW, BODY) == "v1," + base64.b64encode(mac).decode()


def test_new_secret_holds_32_random_bytes() -> None:
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_")
    assert len(secret_bytes(first)) == 32
    assert first != second


@pytest.mark.parametrize(
    "secret",
    [
        base64.b64encode(KEY).decode(),  # no prefix
        "whsec_",
        "whsec_not base64!",
        "whsec_" + base64.b64encode(KEY).decode()[:-1],  # bad padding
        "whsec_" + base64.b64encode(bytes(23)).decode(),  # too short
        "whsec_" + base64.b64encode(bytes(65)).decode(),  # too long
        "whsec_ÄÖÜ",
    ],
)
def test_malformed_secret_is_refused(secret: str) -> None:
    with pytest.raises(ValueError):
        secret_bytes(secret)


@pytest.mark.parametrize("msg_id", ["", "msg.1", "msg 1", "x" * 256])
def test_message_id_that_could_blur_the_signed_content_is_refused(msg_id: str) -> None:
    with pytest.raises(ValueError):
        sign(SECRET, msg_id, NOW, BODY)


def test_headers_carry_id_timestamp_signature_and_json_type() -> None:
    sent = headers(SECRET, MSG_ID, NOW, BODY)
    assert sent == {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(NOW),
        "webhook-signature": sign(SECRET, MSG_ID, NOW, BODY),
        "content-type": "application/json",
    }
    assert verify([SECRET], sent, BODY, now=NOW)


def test_rotation_sends_both_signatures_and_either_secret_verifies() -> None:
    sent = headers(SECRET, MSG_ID, NOW, BODY, previous_secrets=[OLD_SECRET])
    assert sent["webhook-signature"].split(" ") == [
        sign(SECRET, MSG_ID, NOW, BODY),
        sign(OLD_SECRET, MSG_ID, NOW, BODY),
    ]
    assert verify([SECRET], sent, BODY, now=NOW)
    assert verify([OLD_SECRET], sent, BODY, now=NOW)


def test_receiver_that_knows_old_and_new_secret_accepts_either_signature() -> None:
    assert verify([OLD_SECRET, SECRET], headers(SECRET, MSG_ID, NOW, BODY), BODY, now=NOW)
    assert verify([OLD_SECRET, SECRET], headers(OLD_SECRET, MSG_ID, NOW, BODY), BODY, now=NOW)


def test_wrong_secret_fails() -> None:
    assert not verify([OLD_SECRET], headers(SECRET, MSG_ID, NOW, BODY), BODY, now=NOW)


def test_tampered_body_fails() -> None:
    sent = headers(SECRET, MSG_ID, NOW, BODY)
    assert not verify([SECRET], sent, BODY.replace(b"inv_1", b"inv_2"), now=NOW)
    assert not verify([SECRET], sent, BODY + b" ", now=NOW)


def test_tampered_timestamp_or_id_fails() -> None:
    sent = headers(SECRET, MSG_ID, NOW, BODY)
    assert not verify([SECRET], {**sent, "webhook-timestamp": str(NOW + 1)}, BODY, now=NOW)
    assert not verify([SECRET], {**sent, "webhook-id": MSG_ID + "x"}, BODY, now=NOW)


def test_timestamp_tolerance_is_five_minutes_either_way() -> None:
    sent = headers(SECRET, MSG_ID, NOW, BODY)
    assert verify([SECRET], sent, BODY, now=NOW + 300)
    assert verify([SECRET], sent, BODY, now=NOW - 300)
    assert not verify([SECRET], sent, BODY, now=NOW + 301)  # stale: a replay
    assert not verify([SECRET], sent, BODY, now=NOW - 301)  # from the future
    assert verify([SECRET], sent, BODY, now=NOW + 3600, tolerance_s=3600)


def test_header_names_are_case_insensitive() -> None:
    sent = {name.title(): value for name, value in headers(SECRET, MSG_ID, NOW, BODY).items()}
    assert verify([SECRET], sent, BODY, now=NOW)


def test_one_valid_signature_among_others_is_enough() -> None:
    good = sign(SECRET, MSG_ID, NOW, BODY)
    bogus = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
    sent = headers(SECRET, MSG_ID, NOW, BODY)
    offered = f"{bogus} v1a,{good[3:]}  v2,{good[3:]} {good} ünïcode"
    assert verify([SECRET], {**sent, "webhook-signature": offered}, BODY, now=NOW)


@pytest.mark.parametrize(
    "changes",
    [
        {"webhook-id": ""},
        {"webhook-timestamp": ""},
        {"webhook-timestamp": "hello"},
        {"webhook-timestamp": "-1"},
        {"webhook-signature": ""},
        {"webhook-signature": "garbage"},
        {"webhook-signature": "v1a,abc v2,abc"},
    ],
)
def test_missing_or_malformed_headers_fail(changes: dict[str, str]) -> None:
    sent = {**headers(SECRET, MSG_ID, NOW, BODY), **changes}
    sent = {name: value for name, value in sent.items() if value}
    assert not verify([SECRET], sent, BODY, now=NOW)


def test_signature_under_another_version_prefix_does_not_count() -> None:
    good = sign(SECRET, MSG_ID, NOW, BODY)
    sent = {**headers(SECRET, MSG_ID, NOW, BODY), "webhook-signature": "v1a," + good[3:]}
    assert not verify([SECRET], sent, BODY, now=NOW)


def test_no_known_secret_verifies_nothing() -> None:
    assert not verify([], headers(SECRET, MSG_ID, NOW, BODY), BODY, now=NOW)
