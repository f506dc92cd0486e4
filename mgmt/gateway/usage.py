"""Who still calls a version, for deciding whom to notify.

Tollgate records no per-version usage yet (the access-log collector will): until it does,
the answer is None, "unknown", and every subscribed application is notified. When usage
exists, this returns the applications seen calling the version recently and the
notices narrow to them with no other change.
"""

from mgmt.gateway.models import ApiVersion


def applications_calling(version: ApiVersion) -> frozenset[int] | None:
    """Ids of applications that called `version` lately, or None when usage is not recorded."""
    del version  # no usage is recorded yet
    return None
