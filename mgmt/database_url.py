"""Turns TOLLGATE_DATABASE_URL into Django's DATABASES entry (no extra dependency)."""

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit


def database_from_url(url: str, base_dir: Path) -> dict[str, Any]:
    """`sqlite:///relative/to/base_dir.sqlite3`, `sqlite:////absolute.sqlite3` (SQLAlchemy's
    convention) or `postgresql://user:pw@host:port/name`."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        raw = (
            unquote(parts.path.removeprefix("/"))
            if parts.netloc == ""
            else parts.netloc + parts.path
        )
        path = Path(raw) if Path(raw).is_absolute() else base_dir / raw
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(path),
            # The admin and the Celery worker write to one file: a writer waits for the other
            # rather than failing, and takes the write lock when its transaction begins.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    if parts.scheme in {"postgres", "postgresql"}:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")) or "tollgate",
            "USER": unquote(parts.username or "postgres"),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "127.0.0.1",
            "PORT": str(parts.port or 5432),
            "CONN_MAX_AGE": 60,
        }
    raise ValueError(f"unsupported TOLLGATE_DATABASE_URL scheme {parts.scheme!r}")
