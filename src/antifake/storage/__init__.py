"""Where the registry keeps its rows: the storage protocol and row types (`antifake.storage.abc`),
the SQL both backends share (`antifake.storage._sql`), SQLite (the default,
`antifake.storage.sqlite`) and PostgreSQL (`antifake.storage.postgres`, the ``postgres`` extra).
"""

from __future__ import annotations

import os
from typing import Any

from antifake.errors import RegistryError
from antifake.storage.abc import (
    CHUNK_CAP,
    EV_DTYPE,
    INC_DTYPE,
    SCHEMA_VERSION,
    BatchPart,
    EventRow,
    Inserted,
    NodeState,
    StampRow,
    Storage,
    Suspicion,
    TraceColumns,
)
from antifake.storage.sqlite import SQLiteStorage

__all__ = [
    "CHUNK_CAP",
    "EV_DTYPE",
    "INC_DTYPE",
    "SCHEMA_VERSION",
    "BatchPart",
    "EventRow",
    "Inserted",
    "NodeState",
    "SQLiteStorage",
    "StampRow",
    "Storage",
    "Suspicion",
    "TraceColumns",
    "open_storage",
]


def _float_or_none(v: str) -> float | None:
    try:
        return float(v)
    except ValueError:
        return None


def open_storage(url: str | os.PathLike[str], **options: Any) -> Storage:
    """A storage backend for a path or URL: a file path, ``":memory:"``, ``sqlite:///path``
    (``sqlite:///:memory:``), or ``postgresql://...`` (the PostgreSQL backend,
    `antifake.storage.postgres`; needs the ``postgres`` extra)."""
    if isinstance(url, os.PathLike):
        return SQLiteStorage(url, **options)
    if not isinstance(url, str) or not url:
        raise RegistryError(f"expected a path or URL for the registry, not {url!r}")
    lower = url.lower()
    if lower.startswith(("postgresql://", "postgres://")):
        from antifake.storage.postgres import open_postgres
        return open_postgres(url, **options)
    if lower.startswith("sqlite://"):
        rest = url[len("sqlite://"):]
        if rest.startswith("/"):
            rest = rest[1:]
        path, _, query = rest.partition("?")
        for item in filter(None, query.split("&")):
            k, _, v = item.partition("=")
            if k in options and str(options[k]) != v and not (
                    k == "timeout" and _float_or_none(v) == options[k]):
                raise RegistryError(f"registry URL option {k}={v!r} contradicts {k}="
                                    f"{options[k]!r} given as an argument")
            if k == "synchronous":
                options.setdefault("synchronous", v)
            elif k == "timeout":
                secs = _float_or_none(v)
                if secs is None or not 0 <= secs <= 86400:
                    raise RegistryError(f"registry URL option timeout={v!r}: seconds in "
                                        "0..86400")
                options.setdefault("timeout", secs)
            else:
                raise RegistryError(f"unknown registry URL option {k!r}")
        if not path:
            raise RegistryError(f"no database path in {url!r}")
        return SQLiteStorage(path, **options)
    if "://" in url:
        raise RegistryError(f"unknown registry URL scheme in {url!r}")
    return SQLiteStorage(url, **options)
