"""TOLLGATE_DATABASE_URL: relative and absolute SQLite paths, PostgreSQL parts."""

from pathlib import Path

import pytest

from mgmt.database_url import database_from_url

pytestmark = pytest.mark.pure

BASE = Path("/srv/tollgate")


def test_three_slashes_is_a_sqlite_path_relative_to_the_base_dir() -> None:
    assert (
        database_from_url("sqlite:///var/t.sqlite3", BASE)["NAME"] == "/srv/tollgate/var/t.sqlite3"
    )


def test_four_slashes_is_an_absolute_sqlite_path() -> None:
    assert database_from_url("sqlite:////data/run/t.sqlite3", BASE)["NAME"] == "/data/run/t.sqlite3"


def test_postgresql_url_parts() -> None:
    db = database_from_url("postgresql://app:p%40ss@db.internal:6543/tg", BASE)
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "app",
        "p@ss",
        "db.internal",
        "6543",
        "tg",
    )


def test_an_unknown_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="mysql"):
        database_from_url("mysql://x/y", BASE)
