"""Where an API version is served: its API's base path joined with its own prefix."""

from mgmt.compiler.inputs import ApiRow, ApiVersionRow


def full_prefix(api: ApiRow, version: ApiVersionRow) -> str:
    """The API base path and version prefix joined, without a trailing slash ('' for root)."""
    return api.base_path.rstrip("/") + version.path_prefix.rstrip("/")


def version_path(api: ApiRow, version: ApiVersionRow) -> str:
    """The version's address as a caller would write it, e.g. /payments/v2 ('/' for root)."""
    return full_prefix(api, version) or "/"
