"""Scope negotiation for the client credentials grant (RFC 6749 §3.3): a client asks for
some of the scopes its application may hold, or for none and gets all of them."""

import re
from collections.abc import Iterable
from typing import Final

# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
_SCOPE_TOKEN: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


class ScopeRefused(ValueError):
    """The request names a scope it may not have, or one that is not a scope token."""


def granted_scopes(requested: str | None, allowed: Iterable[str]) -> tuple[str, ...]:
    """The scopes to grant. `requested` None or blank: every allowed scope, sorted; else
    the requested ones in the order asked, once each, when all of them are allowed."""
    permitted = set(allowed)
    if requested is None or not requested.strip(" "):
        return tuple(sorted(permitted))
    # Only the space separates scope tokens (§3.3); a tab or newline is not a separator.
    tokens = list(dict.fromkeys(token for token in requested.split(" ") if token))
    for token in tokens:
        if not _SCOPE_TOKEN.fullmatch(token):
            raise ScopeRefused(f"{token!r} is not a scope token (RFC 6749 §3.3)")
        if token not in permitted:
            raise ScopeRefused(f"this client may not request the scope {token!r}")
    return tuple(tokens)
