"""Which webhook URLs we will call, and at which address: the guard against server-side
request forgery. A customer's URL must not make our workers reach our own network, the
cloud metadata service or anything else that is not the public internet.

The host is resolved once, here, and every address it resolves to must be public; the
sender then connects to the address checked here instead of resolving again, so a DNS
answer that changes between the check and the connection (DNS rebinding) gains nothing.
"""

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

MAX_URL_LENGTH: Final = 2048
DEFAULT_PORTS: Final = {"https": 443, "http": 80}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# socket.getaddrinfo(host, port) fits; tests pass a dictionary lookup.
Resolver = Callable[[str, int], Sequence[tuple[Any, Any, Any, Any, tuple[Any, ...]]]]

# Not covered by `is_private` in every Python we support: shared address space (RFC 6598).
_CARRIER_GRADE_NAT: Final = ipaddress.IPv4Network("100.64.0.0/10")
# The NAT64 well-known prefix carries an IPv4 address in its last 32 bits (RFC 6052).
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")


class WebhookUrlError(ValueError):
    """The URL is not one we will deliver to; the message says why, for the endpoint's owner."""


@dataclass(frozen=True, slots=True)
class ResolvedTarget:
    """Where one delivery goes: connect to `ip`, speak to `host` (Host header, TLS name)."""

    scheme: str
    host: str
    port: int
    path: str
    ip: str

    @property
    def url(self) -> str:
        """The URL as validated, for display (never with credentials: those are refused)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = DEFAULT_PORTS[self.scheme] == self.port
        return f"{self.scheme}://{host}{'' if default else f':{self.port}'}{self.path}"


def _tunnelled_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address a 6to4 or Teredo address leads to, if it is one."""
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def _is_global_unicast(address: IPAddress) -> bool:
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def _is_public_ipv6(address: ipaddress.IPv6Address) -> bool:
    # Mapped and NAT64 addresses are the IPv4 host itself, reached over an IPv6 socket.
    translated = address.ipv4_mapped
    if translated is None and address in _NAT64:
        translated = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if translated is not None:
        return is_public_address(translated)
    tunnelled = _tunnelled_ipv4(address)
    if tunnelled is not None and not is_public_address(tunnelled):
        return False
    return not address.is_site_local and _is_global_unicast(address)


def is_public_address(ip: str | IPAddress) -> bool:
    """True for a globally routable unicast address; False for loopback, private, link-local
    (the 169.254.169.254 metadata service among them), multicast, reserved, unspecified,
    carrier-grade NAT, site-local, and IPv6 addresses that lead to one of those. Not an
    address: False."""
    try:
        address = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        return _is_public_ipv6(address)
    return address not in _CARRIER_GRADE_NAT and _is_global_unicast(address)


def _host_of(hostname: str) -> str:
    """The host name checked label by label (IDNA rules: no empty labels, none over 63
    characters); IP literals as given."""
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        pass
    else:
        return hostname
    try:
        return hostname.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise WebhookUrlError(f"the host name {hostname!r} is not valid") from None


def _addresses(host: str, port: int, resolve: Resolver) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        answers = resolve(host, port)
    except (OSError, UnicodeError):
        raise WebhookUrlError(f"the host {host!r} could not be resolved") from None
    found: list[str] = []
    for _family, _kind, _proto, _canonical, sockaddr in answers:
        # A zone index (fe80::1%eth0) is link-local anyway; it is refused below either way.
        text = str(sockaddr[0]).split("%", 1)[0]
        if text not in found:
            found.append(text)
    if not found:
        raise WebhookUrlError(f"the host {host!r} has no address")
    return found


def validate_webhook_url(
    url: str, *, allow_private: bool, resolve: Resolver = socket.getaddrinfo
) -> ResolvedTarget:
    """The target of `url`, or WebhookUrlError. https only, no credentials, and every
    address the host resolves to must be public. `allow_private` (tests, development on
    loopback) lifts the address check and allows plain http."""
    if len(url) > MAX_URL_LENGTH:
        raise WebhookUrlError(f"a webhook URL is at most {MAX_URL_LENGTH} characters")
    if not url.isascii() or any(ord(char) <= 0x20 or ord(char) == 0x7F for char in url):
        raise WebhookUrlError(
            "a webhook URL has no spaces, control or non-ASCII characters "
            "(percent-encode them; use the punycode form of an international host name)"
        )
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if allow_private else ("https",)
    if scheme not in allowed:
        raise WebhookUrlError("a webhook URL must start with https://")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise WebhookUrlError("a webhook URL must not contain a user name or password")
    if not parts.hostname:
        raise WebhookUrlError("a webhook URL needs a host")
    try:
        explicit_port = parts.port
    except ValueError:
        raise WebhookUrlError("the port of a webhook URL is a number, 1 to 65535") from None
    if explicit_port == 0:
        raise WebhookUrlError("the port of a webhook URL is a number, 1 to 65535")
    port = explicit_port if explicit_port is not None else DEFAULT_PORTS[scheme]
    host = _host_of(parts.hostname)
    addresses = _addresses(host, port, resolve)
    if not allow_private:
        refused = [each for each in addresses if not is_public_address(each)]
        if refused:
            raise WebhookUrlError(
                f"the host {host!r} resolves to {refused[0]}, which is not a public address"
            )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return ResolvedTarget(scheme=scheme, host=host, port=port, path=path, ip=addresses[0])
