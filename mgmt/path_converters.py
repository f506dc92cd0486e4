"""Path parameters the database can always look up: bounded ids, plain version names.
A path that does not fit is a 404 before any query (a NUL or a 30-digit id would
otherwise reach PostgreSQL and come back as a 500). Registered once, in mgmt.urls, for
the developer API and the portal alike; slugs use Django's own `slug`."""


class IdConverter:
    regex = "[1-9][0-9]{0,17}"  # inside a 64-bit primary key

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


class VersionConverter:
    regex = "[A-Za-z0-9][A-Za-z0-9._~-]{0,49}"  # e.g. v1, 2024-06-01, 1.2

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
