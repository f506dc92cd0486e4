"""What a developer-API write did to the gateways' configuration.

A write that published (or was covered by) a snapshot answers `Tollgate-Config-Version`:
the snapshot that holds it. With `Prefer: wait=N` (RFC 7240) the answer is held, N seconds
at most (TOLLGATE_CONFIG_WAIT_MAX_SECONDS), until every connected gateway has acknowledged
that snapshot (mgmt.controlplane.rollout), and says `Preference-Applied: wait=N`,
`Tollgate-Config-Live: true|false`, and when false `Tollgate-Config-Pending`: the nodes
that have not acknowledged it yet.
"""

from typing import Final

from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from mgmt.gateway import config_rollout
from mgmt.gateway.models import Snapshot

VERSION: Final = "Tollgate-Config-Version"
LIVE: Final = "Tollgate-Config-Live"
PENDING: Final = "Tollgate-Config-Pending"


def requested_wait(prefer: str, most: float) -> float | None:
    """The `wait` preference's seconds, at most `most`; None when none is asked for (or
    it is not a number of seconds: a preference the server does not understand is
    ignored, RFC 7240 section 2)."""
    for preference in prefer.split(","):
        name, _, value = preference.split(";", 1)[0].partition("=")
        if name.strip().lower() == "wait":
            seconds = value.strip().strip('"')
            if seconds.isdigit():
                return min(float(seconds), most)
    return None


def answer(
    request: HttpRequest, response: HttpResponseBase, covering: list[Snapshot]
) -> HttpResponseBase:
    """Adds the headers to a successful write's answer, waiting first if asked to."""
    if not covering or not 200 <= response.status_code < 300:
        return response
    snapshot = covering[-1]
    if snapshot.status != Snapshot.Status.PUBLISHED:
        return response  # refused: the served configuration stays what it was
    response[VERSION] = snapshot.version
    wait = requested_wait(
        request.headers.get("Prefer", ""), settings.TOLLGATE_CONFIG_WAIT_MAX_SECONDS
    )
    if wait is None:
        return response
    state = config_rollout.wait_for_rollout(snapshot, timeout=wait)
    response["Preference-Applied"] = f"wait={wait:g}"
    response[LIVE] = "true" if state.live else "false"
    if state.pending:
        response[PENDING] = ", ".join(sorted(state.pending))
    return response
