"""Which webhook URLs are refused, and the address a valid one is pinned to."""

import socket
from collections.abc import Sequence
from typing import Any

import pytest

from mgmt.billing.webhook_urls import (
    ResolvedTarget,
    WebhookUrlError,
    is_public_address,
    validate_webhook_url,
)

pytestmark = pytest.mark.pure

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"

Answer = tuple[Any, Any, Any, Any, tuple[Any, ...]]


def resolver(table: dict[str, list[str]]) -> Any:
    """A getaddrinfo stand-in answering from `table`; unknown names fail as DNS does."""

    def resolve(host: str, port: int) -> Sequence[Answer]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in ip else socket.AF_INET,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (ip, port, 0, 0) if ":" in ip else (ip, port),
            )
            for ip in table[host]
        ]

    return resolve


def no_dns(host: str, port: int) -> Sequence[Answer]:
    raise AssertionError(f"an IP literal is not resolved, yet {host!r} was")


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "10.0.0.1",
        "10.255.255.255",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata service
        "169.254.0.1",
        "100.64.0.1",  # carrier-grade NAT
        "100.127.255.254",
        "0.0.0.0",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.10",  # documentation
        "198.18.0.1",  # benchmarking
        "::1",
        "::",
        "fc00::1",
        "fd12:3456:789a::1",
        "fe80::1",
        "fec0::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2001:db8::1",
        "not an address",
    ],
)
def test_address_that_is_not_public(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", PUBLIC_V4, PUBLIC_V6, "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_address(address: str) -> None:
    assert is_public_address(address)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://172.20.0.1/hook",
        "https://192.168.0.10/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hook",
        "https://[fc00::1]/hook",
        "https://[fe80::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://100.64.0.1/hook",
        "https://0.0.0.0/hook",
    ],
)
def test_url_with_non_public_ip_literal_is_refused(url: str) -> None:
    with pytest.raises(WebhookUrlError, match="not a public address"):
        validate_webhook_url(url, allow_private=False, resolve=no_dns)


@pytest.mark.parametrize("host", ["0x7f.1", "2130706433", "127.1"])
def test_unusual_spellings_of_loopback_are_judged_by_what_they_resolve_to(host: str) -> None:
    # The real resolver reads these as 127.0.0.1 (inet_aton); no network is involved.
    with pytest.raises(WebhookUrlError):
        validate_webhook_url(f"https://{host}/hook", allow_private=False)


def test_host_name_resolving_to_a_private_address_is_refused() -> None:
    resolve = resolver({"hooks.example.com": ["10.0.0.5"]})
    with pytest.raises(WebhookUrlError, match=r"resolves to 10\.0\.0\.5"):
        validate_webhook_url("https://hooks.example.com/x", allow_private=False, resolve=resolve)


def test_host_name_with_any_private_address_among_public_ones_is_refused() -> None:
    resolve = resolver({"hooks.example.com": [PUBLIC_V4, PUBLIC_V6, "169.254.169.254"]})
    with pytest.raises(WebhookUrlError, match=r"169\.254\.169\.254"):
        validate_webhook_url("https://hooks.example.com/x", allow_private=False, resolve=resolve)


def test_public_host_is_pinned_to_the_address_that_was_checked() -> None:
    resolve = resolver({"hooks.example.com": [PUBLIC_V4, PUBLIC_V6, PUBLIC_V4]})
    target = validate_webhook_url(
        "https://Hooks.Example.com/billing/events?tenant=7#ignored",
        allow_private=False,
        resolve=resolve,
    )
    assert target == ResolvedTarget(
        scheme="https",
        host="hooks.example.com",
        port=443,
        path="/billing/events?tenant=7",
        ip=PUBLIC_V4,
    )
    assert target.url == "https://hooks.example.com/billing/events?tenant=7"


def test_explicit_port_and_empty_path() -> None:
    resolve = resolver({"hooks.example.com": [PUBLIC_V6]})
    target = validate_webhook_url(
        "https://hooks.example.com:8443", allow_private=False, resolve=resolve
    )
    assert (target.port, target.path, target.ip) == (8443, "/", PUBLIC_V6)
    assert target.url == "https://hooks.example.com:8443/"


def test_public_ipv6_literal_is_accepted_without_resolving() -> None:
    target = validate_webhook_url(f"https://[{PUBLIC_V6}]/h", allow_private=False, resolve=no_dns)
    assert (target.host, target.ip) == (PUBLIC_V6, PUBLIC_V6)
    assert target.url == f"https://[{PUBLIC_V6}]/h"


def test_unresolvable_host_is_refused() -> None:
    with pytest.raises(WebhookUrlError, match="could not be resolved"):
        validate_webhook_url("https://nowhere.invalid/", allow_private=False, resolve=resolver({}))


def test_host_without_addresses_is_refused() -> None:
    resolve = resolver({"empty.example.com": []})
    with pytest.raises(WebhookUrlError, match="no address"):
        validate_webhook_url("https://empty.example.com/", allow_private=False, resolve=resolve)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (f"http://{PUBLIC_V4}/hook", "https"),
        (f"ftp://{PUBLIC_V4}/hook", "https"),
        ("hooks.example.com/hook", "https"),
        (f"https://user:pass@{PUBLIC_V4}/hook", "user name or password"),
        (f"https://user@{PUBLIC_V4}/hook", "user name or password"),
        (f"https://:@{PUBLIC_V4}/hook", "user name or password"),
        ("https:///hook", "needs a host"),
        ("https://:443/hook", "needs a host"),
        (f"https://{PUBLIC_V4}:0/hook", "port"),
        (f"https://{PUBLIC_V4}:65536/hook", "port"),
        (f"https://{PUBLIC_V4}:https/hook", "port"),
        (f"https://{PUBLIC_V4}/a b", "spaces"),
        (f"https://{PUBLIC_V4}/a\r\nX-Injected: 1", "control"),
        ("https://bücher.example/hook", "non-ASCII"),
        ("https://a..example.com/hook", "not valid"),
        ("https://" + "a" * 64 + ".example.com/hook", "not valid"),
        (f"https://{PUBLIC_V4}/" + "a" * 2048, "at most 2048"),
    ],
)
def test_malformed_or_unsafe_url_is_refused(url: str, reason: str) -> None:
    resolve = resolver({"hooks.example.com": [PUBLIC_V4]})
    with pytest.raises(WebhookUrlError, match=reason):
        validate_webhook_url(url, allow_private=False, resolve=resolve)


def test_credentials_are_refused_even_when_private_addresses_are_allowed() -> None:
    with pytest.raises(WebhookUrlError, match="user name or password"):
        validate_webhook_url("http://u:p@127.0.0.1:8000/", allow_private=True, resolve=no_dns)


def test_allow_private_permits_http_on_loopback_for_tests() -> None:
    target = validate_webhook_url("http://127.0.0.1:8080/in", allow_private=True, resolve=no_dns)
    assert target == ResolvedTarget(
        scheme="http", host="127.0.0.1", port=8080, path="/in", ip="127.0.0.1"
    )


def test_allow_private_permits_names_resolving_to_private_addresses() -> None:
    resolve = resolver({"receiver.internal": ["10.0.0.5"]})
    target = validate_webhook_url("http://receiver.internal/", allow_private=True, resolve=resolve)
    assert (target.host, target.port, target.ip) == ("receiver.internal", 80, "10.0.0.5")
