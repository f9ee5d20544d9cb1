"""The PostgreSQL backend of the registry: the `antifake.storage.abc.Storage`
interface over psycopg 3, for many writers (processes, machines) on one registry.

``Registry("postgresql://user@host:5432/db?schema=antifake", keyring=ring)`` (``pip install
'antifake[postgres]'``). It behaves as `antifake.storage.sqlite.SQLiteStorage` does
(same tables, same rules, same graph columns for the same events) but writers do not queue
behind one file lock: they run concurrently and meet only where they touch the same rows.

URL options (removed before connecting; everything else goes to libpq):

``schema``       the PostgreSQL schema holding the registry (created if missing; default: the
                 server's ``search_path``, usually ``public``). One registry per schema.
``synchronous``  ``full`` (default): ``synchronous_commit = on``; ``normal``: ``off`` (a crash
                 of the server may lose the last commits, never corrupts; see SQLite's
                 ``synchronous`` trade-off in `antifake.storage.sqlite`).
``timeout``      seconds a statement waits for a lock held by another writer
                 (``lock_timeout``; default 30, as SQLite's busy timeout).

How the SQLite rules carry over
-------------------------------
* **Idempotent ingest.** ``events.hash`` is UNIQUE; new events go in with ``INSERT ... ON
  CONFLICT (hash) DO NOTHING RETURNING id``: two writers storing the same event race on the
  unique index, one row wins and the other writer learns the winner's id. Nodes (EPCs) and
  parties are created the same way (``ON CONFLICT (epc)``, ``(name)``). Rows are inserted in
  key order, so two writers never wait on each other in opposite orders.
* **Atomic ``record_many``.** One transaction (``READ COMMITTED``), committed or rolled back.
* **Lifecycle and claims.** `states` inside a write transaction locks the nodes' rows
  (``SELECT ... FOR NO KEY UPDATE``, in id order) before reading their state, so a claim's
  read-check-write is serialised per stamp: concurrent claims have exactly one winner, and
  claims on different stamps do not wait for each other. (``NO KEY UPDATE``: recording scans of
  a stamp, whose foreign keys take ``KEY SHARE`` locks, is not blocked by a claim.)
* **Ids.** Rows get ids from sequences. A registered batch needs one contiguous block of node
  ids (stamp ``i`` is node ``first_node + i``): `af_alloc` takes ``n`` consecutive values
  under a short advisory lock (sequences are not transactional: a block is never reused). With
  one writer the ids are exactly SQLite's, so the graph columns are equal; with several, ids
  have gaps and follow allocation order, and the snapshot puts events in id order.
* **Bulk ingest with COPY.** Batches of stamps and large event lists are sent with ``COPY``
  into session temporary tables, then moved with one ``INSERT ... SELECT ... ON CONFLICT``;
  incidences go straight into their table with ``COPY``.
* **Graph columns.** As in SQLite, each write transaction also appends the packed integer
  columns of its events and incidences (``columns`` table, ``bytea``), merged as they
  accumulate but kept under ``PG_CHUNK_CAP`` rows per chunk: PostgreSQL moves values of a few
  MB at memory speed, but one value of 100 MB three times slower (measured: 100 x 1 MB rows
  0.22-0.33 s, one 100 MB value 1.24 s; SQLite 0.47 s). Reading the rows themselves instead is
  far slower here: binary COPY of 4 M event rows 9.5 s (psycopg receives one message per row),
  ``array_agg`` 7.4 s. Concurrent writers' chunks may interleave in event ids: the snapshot
  sorts them. Only one transaction merges at a time (``pg_try_advisory_xact_lock``; the others
  just append).
* **Versions.** `version` is a counter bumped by every transaction that adds events or
  nodes (the last statement before ``COMMIT``), so a cached graph is never stale even when
  writers commit out of id order.
* **Schema.** ``meta`` holds the schema version and format; opening migrates an older schema
  under an advisory lock (two processes opening a new database create it once) and refuses a
  newer one, or a schema holding other tables.

A deadlock between two transactions that lock the same stamps in different orders across
several statements (PostgreSQL detects it and aborts one) surfaces as `RegistryError`
"deadlock detected": retry the call. The registry's own calls lock in one order.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np

from antifake.errors import RegistryError
from antifake.storage._packed import (
    _merge_from,
    _merged,
    _pack,
)
from antifake.storage._sql import (
    EVENT_COLUMNS,
    _Fresh,
    _now_us,
    _SQLRows,
)
from antifake.storage._upgrade import DATA_STEPS
from antifake.storage.abc import (
    EV_DTYPE,
    INC_DTYPE,
    SCHEMA_VERSION,
    BatchPart,
    EventRow,
    Inserted,
)
from antifake.storage.schema import PG_MIGRATIONS

try:
    import psycopg
    from psycopg import sql as _sql
except ImportError:  # pragma: no cover - exercised where psycopg is absent
    psycopg = None  # type: ignore[assignment]
    _sql = None  # type: ignore[assignment]

__all__ = ["PostgresStorage", "PG_CHUNK_CAP", "PG_MIGRATIONS", "is_postgres_url"]

#: Rows (events + incidences) per column chunk (about 12 MB at most).
PG_CHUNK_CAP = 131_072
#: Above this many rows an insert goes through COPY and a temporary table.
_COPY_MIN = 64
_FORMAT = "antifake-registry"
# advisory lock keys (32-bit halves: "AFRG" and a purpose)
_LOCK_NS = 0x4146_5247
_LOCK_ALLOC, _LOCK_MIGRATE, _LOCK_MERGE = 1, 2, 3
_LOCK_BATCH = 4  # with a hash of (issuer, key id, batch id) as the second key
_TABLES = ("meta", "parties", "nodes", "batches", "stamp_nodes", "contexts", "events",
           "incidence", "lifecycle", "columns", "version", "suspicions")

_ALLOC = "SELECT af_alloc(%s::regclass, %s)"
_EV_NAMES: tuple[str, ...] = tuple(EV_DTYPE.names or ())
_INC_NAMES: tuple[str, ...] = tuple(INC_DTYPE.names or ())
_EV_TYPES: dict[str, Any] = {f: EV_DTYPE[f] for f in _EV_NAMES}
_INC_TYPES: dict[str, Any] = {f: INC_DTYPE[f] for f in _INC_NAMES}


def is_postgres_url(url: Any) -> bool:
    return isinstance(url, str) and url.lower().startswith(("postgresql://", "postgres://"))


def _split_url(url: str) -> tuple[str, dict[str, str]]:
    """The libpq URL without antifake's options, and those options."""
    parts = urlsplit(url)
    ours: dict[str, str] = {}
    rest = []
    for k, v in parse_qsl(parts.query, keep_blank_values=True):
        if k in ("schema", "synchronous", "timeout"):
            ours[k] = v
        else:
            rest.append((k, v))
    return urlunsplit(parts._replace(query=urlencode(rest))), ours


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(":" + parts.password + "@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def _copy_text(value: Any) -> str:
    """One field of COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\\\x" + bytes(value).hex()
    if isinstance(value, float):
        return repr(value)
    s = str(value)
    if "\\" in s or "\t" in s or "\n" in s or "\r" in s:
        s = s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return s


def _copy_rows(rows: Iterable[Sequence[Any]]) -> str:
    return "".join("\t".join(map(_copy_text, r)) + "\n" for r in rows)


class PostgresStorage(_SQLRows):
    """The PostgreSQL backend (see the module documentation).

    ``url``: ``postgresql://...`` with the options above. One connection, shared by the
    threads of one process under a lock (as SQLite's); other processes open their own.
    ``timeout`` and ``synchronous`` are the registry's arguments; the URL's options win.
    """

    _db_errors = (psycopg.Error,) if psycopg is not None else ()
    _FIND = "strpos"

    def _x(self, sql: str, args: Sequence[Any] | Mapping[str, Any] = ()) -> Any:
        """Execute a query written with ``?`` placeholders (the shared ones) or ``%s``."""
        return self._db.execute(_format_style(sql), args)

    def _storage_error(self, exc: BaseException) -> RegistryError:
        return _error(exc, self._timeout)

    def _xmany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._db.cursor().executemany(_format_style(sql), rows)

    def _where_in(self, column: str, values: Sequence[Any]
                  ) -> Iterator[tuple[str, list[Any]]]:
        """``column = ANY(?)`` over arrays of at most 50,000 values."""
        for lo in range(0, len(values), 50_000):
            yield f"{column} = ANY(?)", [list(values[lo: lo + 50_000])]

    def _stream(self, sql: str, args: Sequence[Any]) -> Iterator[Any]:
        """A server-side cursor (call inside ``snapshot``)."""
        with self._db.cursor(name="af_stream") as cur:
            cur.itersize = 2048
            cur.execute(_format_style(sql), args)
            yield from cur

    @contextlib.contextmanager
    def committed_reads(self) -> Iterator[None]:
        with self._reading():  # autocommit: no BEGIN/COMMIT round trips
            yield

    def _lock_nodes(self, ids: list[int]) -> None:
        self._db.execute("SELECT id FROM nodes WHERE id = ANY(%s) ORDER BY id "
                         "FOR NO KEY UPDATE", (ids,)).fetchall()

    def __init__(self, url: str, *, timeout: float = 30.0, synchronous: str = "full",
                 cache_mb: int = 0, canonical: Callable[[str], str | None] | None = None,
                 connect_timeout: float = 10.0) -> None:
        if psycopg is None:
            raise RegistryError("the PostgreSQL backend needs psycopg 3: pip install "
                                "'antifake[postgres]'")
        conninfo, opts = _split_url(url)
        self.url = _redact(url)
        self.schema = opts.get("schema") or None
        sync = str(opts.get("synchronous", synchronous)).lower()
        if sync not in ("full", "normal", "extra"):
            raise RegistryError(f"synchronous must be 'full', 'normal' or 'extra', not {sync!r}")
        try:
            self._timeout = float(opts.get("timeout", timeout))
        except ValueError:
            raise RegistryError(f"timeout must be a number of seconds in {self.url!r}") from None
        self._canonical = canonical
        self._lock = threading.RLock()
        self._tx: str | None = None
        self._pending_ev: list[np.ndarray] = []
        self._pending_inc: list[np.ndarray] = []
        self._dirty = False
        self._party_cache: dict[str, int] = {}
        self._pending_parties: dict[str, int] = {}
        self._ctx_cache: dict[str, int] = {}
        self._pending_ctx: dict[str, int] = {}
        try:
            self._db: Any = psycopg.connect(conninfo, autocommit=True,
                                       connect_timeout=max(1, int(connect_timeout)),
                                       application_name="antifake")
        except psycopg.Error as exc:
            raise RegistryError(f"cannot open PostgreSQL registry {self.url!r}: "
                                f"{str(exc).strip()[:300]}") from None
        try:
            self._configure("on" if sync != "normal" else "off")
            self._migrate()
        except BaseException:
            self._db.close()
            raise

    # -- set-up ----------------------------------------------------------------------------
    def _configure(self, sync: str) -> None:
        db = self._db
        try:
            db.execute(f"SET lock_timeout = {int(self._timeout * 1000)}")
            db.execute(f"SET synchronous_commit = {sync}")
            db.execute("SET jit = off")  # compiling costs more than it saves on these queries
            db.execute("SET client_encoding = 'UTF8'")
            if self.schema:
                ident = _sql.Identifier(self.schema)
                exists = db.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s",
                                    (self.schema,)).fetchone()
                if not exists:
                    # another connection may create it at the same moment
                    with contextlib.suppress(psycopg.errors.UniqueViolation,
                                             psycopg.errors.DuplicateSchema):
                        db.execute(_sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident))
                db.execute(_sql.SQL("SET search_path TO {}").format(ident))
        except psycopg.Error as exc:
            raise RegistryError(f"cannot set up registry {self.url!r}: {exc}") from None

    def _current_schema(self) -> str:
        return str(self._db.execute("SELECT current_schema()").fetchone()[0])

    def _meta_version(self) -> int | None:
        """Schema version in ``meta`` (None: no registry here); RegistryError for a schema
        holding other tables."""
        db = self._db
        schema = self._current_schema()
        rows = db.execute("SELECT table_name FROM information_schema.tables WHERE "
                          "table_schema = %s", (schema,)).fetchall()
        names = {r[0] for r in rows}
        if "meta" not in names:
            if names & set(_TABLES):
                raise RegistryError(f"schema {schema!r} of {self.url!r} holds tables but not an "
                                    "antifake registry")
            return None
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("format") != _FORMAT:
            raise RegistryError(f"schema {schema!r} of {self.url!r} is not an antifake "
                                "registry (meta.format differs)")
        try:
            return int(meta["schema_version"])
        except (KeyError, ValueError):
            raise RegistryError(f"registry {self.url!r}: unreadable meta.schema_version") from None

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise RegistryError(
                f"registry {self.url!r} has schema version {version}, newer than this antifake "
                f"supports ({SCHEMA_VERSION}); upgrade antifake to open it")

    def _migrate(self) -> None:
        try:
            version = self._meta_version()
            if version is not None:
                self._check_version(version)
                if version == SCHEMA_VERSION:
                    return
            with self.transaction():
                self._db.execute("SELECT pg_advisory_xact_lock(%s, %s)",
                                 (_LOCK_NS, _LOCK_MIGRATE))
                version = self._meta_version() or 0  # another process may have been here
                self._check_version(version)
                for v in range(version + 1, SCHEMA_VERSION + 1):
                    if PG_MIGRATIONS[v]:
                        self._db.execute(PG_MIGRATIONS[v])
                    if version > 0 and v in DATA_STEPS:
                        DATA_STEPS[v](self._x)
                from antifake._version import __version__

                meta = {"schema_version": str(SCHEMA_VERSION), "format": _FORMAT,
                        "written_by": f"antifake {__version__}", "backend": "postgresql"}
                if version == 0:
                    meta["created_us"] = str(_now_us())
                self._db.cursor().executemany(
                    "INSERT INTO meta(key, value) VALUES (%s, %s) ON CONFLICT (key) "
                    "DO UPDATE SET value = excluded.value", list(meta.items()))
        except psycopg.Error as exc:
            raise RegistryError(f"cannot open registry {self.url!r}: {exc}") from None

    # -- transactions ----------------------------------------------------------------------
    # READ COMMITTED, with rows locked where a rule reads and then writes; reads see one
    # committed state through REPEATABLE READ.
    _BEGIN_WRITE = "BEGIN ISOLATION LEVEL READ COMMITTED"
    _BEGIN_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"

    def _before_commit(self) -> None:
        super()._before_commit()
        if self._dirty:  # the graph's parties or packed columns changed: readers must see it
            self._db.execute("UPDATE version SET n = n + 1 WHERE id = 1")

    def _after_write(self) -> None:
        super()._after_write()
        self._dirty = False

    def _begin(self, stmt: str) -> None:
        try:
            self._db.execute(stmt)
        except psycopg.Error as exc:
            raise RegistryError(f"cannot start a transaction: {_short(exc)}") from None

    def _alloc(self, seq: str, n: int) -> int:
        """First of ``n`` consecutive fresh ids of sequence ``seq``."""
        return int(self._db.execute(_ALLOC, (seq, n)).fetchone()[0])

    def _copy_in(self, table: str, cols: str, payload: str) -> None:
        with self._db.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as cp:
            view = payload.encode("utf-8")
            step = 1 << 20
            for lo in range(0, len(view), step):
                cp.write(view[lo: lo + step])

    def _temp(self, name: str, like: str) -> None:
        self._db.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} (LIKE {like}) "
                         "ON COMMIT DELETE ROWS")

    # -- parties ---------------------------------------------------------------------------
    def _upsert_party(self, name: str, role: str | None, region: str | None,
                      lat: float | None, lon: float | None) -> int:
        return int(self._db.execute(
            "INSERT INTO parties(name, role, region, lat, lon) VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (name) DO UPDATE SET role = coalesce(excluded.role, parties.role), "
            "region = coalesce(excluded.region, parties.region), "
            "lat = coalesce(excluded.lat, parties.lat), lon = coalesce(excluded.lon, parties.lon) "
            "RETURNING id", (name, role, region, lat, lon)).fetchone()[0])

    def _parties_changed(self) -> None:
        self._dirty = True  # the commit bumps the version: the graph's parties change

    def _party_rows_named(self, names: list[str]) -> list[tuple[int, str]]:
        return self._db.execute("SELECT id, name FROM parties WHERE name = ANY(%s)",
                                (names,)).fetchall()

    def _create_parties(self, names: list[str]) -> dict[str, int]:
        # ids in SQLiteStorage's order; rows inserted in name order (no lock cycles); a
        # concurrent writer may have created some first: their ids are read back
        nxt = self._alloc("parties_seq", len(names))
        self._db.execute("INSERT INTO parties(id, name) SELECT * FROM unnest(%s::int[], "
                         "%s::text[]) AS t(id, name) ORDER BY name ON CONFLICT (name) DO NOTHING",
                         (list(range(nxt, nxt + len(names))), names))
        return {str(n): int(i) for i, n in self._party_rows_named(names)}

    # -- stamps ----------------------------------------------------------------------------
    def batch_parts(self, issuer: str, key_id: int, batch_id: int) -> list[BatchPart]:
        with self._lock:
            if self._tx == "write":
                # serialise registrations of one batch (the check and the insert that follows)
                k = zlib.crc32(f"{issuer}\x00{key_id}\x00{batch_id}".encode()) & 0x7FFF_FFFF
                self._db.execute("SELECT pg_advisory_xact_lock(%s, %s)",
                                 (_LOCK_NS + _LOCK_BATCH, k))
            rows = self._all(
                "SELECT id, first_index, n, digest, first_node FROM batches "
                "WHERE issuer = %s AND key_id = %s AND batch_id = %s ORDER BY first_index",
                (issuer, key_id, batch_id))
        return [BatchPart(issuer, key_id, batch_id, int(fi), int(n), bytes(d), row=int(r),
                          first_node=int(fn)) for r, fi, n, d, fn in rows]

    def insert_batch(self, part: BatchPart, epcs: Sequence[str],
                     serials: np.ndarray) -> np.ndarray:
        """Store a batch part and its stamps' nodes (one contiguous block of node ids; stamps
        whose EPC is already a node keep it, listed in ``stamp_nodes``)."""
        self._need_tx()
        db = self._db
        n = len(epcs)
        if n != part.n or len(serials) != n:
            raise RegistryError("internal: batch part, EPCs and serials disagree")
        owner = self.party_ids([part.owner])[part.owner] if part.owner else None
        first = self._alloc("nodes_seq", n)
        part.row = int(db.execute(
            "INSERT INTO batches(issuer, key_id, batch_id, first_index, n, first_node, digest, "
            "owner, gtin, lot, expiry, registered_us) VALUES "
            "(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING id",
            (part.issuer, part.key_id, part.batch_id, part.first_index, n, first, part.digest,
             owner, part.gtin, part.lot, part.expiry, part.registered_us)).fetchone()[0])
        part.first_node = first
        sers = np.ascontiguousarray(serials, dtype=np.uint64).view(np.int64).tolist()
        nodes = np.arange(first, first + n, dtype=np.int64)
        self._temp("_af_nodes_in", "nodes")
        joined = "\n".join(epcs)
        if "\\" in joined or "\t" in joined or "\r" in joined or joined.count("\n") != n - 1:
            payload = _copy_rows(zip(nodes.tolist(), epcs, sers, strict=True))
        else:
            payload = "".join(f"{i}\t{e}\t{s}\n"
                              for i, e, s in zip(range(first, first + n), epcs, sers,
                                                 strict=True))
        del joined
        self._copy_in("_af_nodes_in", "id, epc, serial", payload)
        del payload
        cur = db.execute("INSERT INTO nodes SELECT * FROM _af_nodes_in ORDER BY epc "
                         "ON CONFLICT (epc) DO NOTHING")
        if cur.rowcount != n:
            holes = db.execute("SELECT t.id, t.epc, x.id, x.serial FROM _af_nodes_in t "
                               "JOIN nodes x ON x.epc = t.epc WHERE x.id <> t.id "
                               "ORDER BY t.id").fetchall()
            for tid, epc, node, serial in holes:
                i = int(tid) - first
                if serial is not None or self.stamp_by_node(int(node)) is not None:
                    raise RegistryError(f"stamp {epc} is already registered in another batch")
                db.execute("UPDATE nodes SET serial = %s WHERE id = %s", (sers[i], node))
                db.execute("INSERT INTO stamp_nodes(batch, idx, node) VALUES (%s, %s, %s)",
                           (part.row, part.first_index + i, node))
                nodes[i] = int(node)
        db.execute("TRUNCATE _af_nodes_in")
        self._dirty = True
        return nodes

    def _create_nodes(self, new: list[str]) -> dict[str, int]:
        """Create nodes; a concurrent writer may have created some of them first: those take
        its ids."""
        db = self._db
        nxt = self._alloc("nodes_seq", len(new))
        ids = list(range(nxt, nxt + len(new)))
        if len(new) < _COPY_MIN:
            db.execute("INSERT INTO nodes(id, epc) SELECT * FROM unnest(%s::bigint[], "
                       "%s::text[]) AS t(id, epc) ORDER BY epc ON CONFLICT (epc) DO NOTHING",
                       (ids, new))
        else:
            self._temp("_af_nodes_in", "nodes")
            self._copy_in("_af_nodes_in", "id, epc", _copy_rows(zip(ids, new, strict=True)))
            db.execute("INSERT INTO nodes(id, epc) SELECT id, epc FROM _af_nodes_in "
                       "ORDER BY epc ON CONFLICT (epc) DO NOTHING")
            db.execute("TRUNCATE _af_nodes_in")
        self._dirty = True
        return self._lookup_nodes(new)

    # -- events ----------------------------------------------------------------------------
    def _next_event_ids(self, n: int) -> int:
        return self._alloc("events_seq", n)

    def _store_events(self, fresh: list[int], new_rows: list[EventRow], prepared: list[_Fresh],
                      known: dict[bytes, int], out: list[Inserted | None]) -> None:
        """Insert with ``ON CONFLICT DO NOTHING``: an event another writer stored first (and
        committed meanwhile) takes that writer's id."""
        db = self._db
        sql_rows = [p.sql for p in prepared]
        cols = EVENT_COLUMNS
        nxt = sql_rows[0][0]
        if len(sql_rows) < _COPY_MIN:
            ph = "(" + ",".join(["%s"] * 16) + ")"
            order = sorted(range(len(sql_rows)), key=lambda i: sql_rows[i][1])
            args = [v for i in order for v in sql_rows[i]]
            got = db.execute(f"INSERT INTO events({cols}) VALUES "  # noqa: S608
                             + ",".join([ph] * len(sql_rows))
                             + " ON CONFLICT (hash) DO NOTHING RETURNING id", args).fetchall()
        else:
            self._temp("_af_events_in", "events")
            self._copy_in("_af_events_in", cols, _copy_rows(sql_rows))
            got = db.execute(f"INSERT INTO events({cols}) SELECT {cols} FROM _af_events_in "  # noqa: S608
                             "ORDER BY hash ON CONFLICT (hash) DO NOTHING RETURNING id"
                             ).fetchall()
            db.execute("TRUNCATE _af_events_in")
        stored = {int(g[0]) for g in got}
        lost = [j for j in range(len(new_rows)) if nxt + j not in stored]
        if lost:  # another writer stored these events first (committed meanwhile)
            known.update(self._event_ids([new_rows[j].hash for j in lost]))
        lost_set = set(lost)
        inc_ev: list[np.ndarray] = []
        inc_node: list[np.ndarray] = []
        sql_inc: list[str] = []
        keep = []
        for j, (k, r) in enumerate(zip(fresh, new_rows, strict=True)):
            if j in lost_set:
                continue
            keep.append(j)
            eid = nxt + j
            nodes = prepared[j].nodes
            arr = np.asarray(nodes, dtype=np.int64)
            inc_ev.append(np.full(len(arr), eid, dtype=np.int64))
            inc_node.append(arr)
            if not prepared[j].ranged and len(arr):
                sql_inc.append("".join(f"{n}\t{eid}\n" for n in arr.tolist()))
            out[k] = Inserted(eid, True, arr.tolist() if isinstance(nodes, np.ndarray)
                              else list(nodes))
            known.setdefault(r.hash, eid)
        if sql_inc:
            self._copy_in("incidence", "node, event", "".join(sql_inc))
        if keep:
            ev = np.array([prepared[j].ev for j in keep], dtype=EV_DTYPE)
            inc = np.empty(sum(len(a) for a in inc_ev), dtype=INC_DTYPE)
            if len(inc):
                inc["event"] = np.concatenate(inc_ev)
                inc["node"] = np.concatenate(inc_node)
            self._pending_ev.append(ev)
            self._pending_inc.append(inc)
            self._dirty = True

    def _flush_columns(self) -> None:
        """Append this transaction's packed columns as one chunk; merge small trailing chunks
        when no other transaction is merging (see the module documentation)."""
        pending = self._pending_columns()
        if pending is None:
            return
        ev, inc = pending
        db = self._db
        size = len(ev) + len(inc)
        merge_from = None
        old: list[Any] = []
        if size < PG_CHUNK_CAP and db.execute("SELECT pg_try_advisory_xact_lock(%s, %s)",
                                              (_LOCK_NS, _LOCK_MERGE)).fetchone()[0]:
            tail = db.execute("SELECT id, n_events + n_inc FROM columns ORDER BY id DESC "
                              "LIMIT 64").fetchall()
            merge_from = _merge_from(tail, size, PG_CHUNK_CAP)
        first_event, last_event = int(ev["event"].min()), int(ev["event"].max())
        n_ev, n_inc = len(ev), len(inc)
        if merge_from is not None:
            # the rows merged are exactly the rows read and locked here (chunks committed
            # meanwhile by others are neither read nor deleted)
            old = db.execute("SELECT first_event, last_event, n_events, n_inc, events, inc, id "
                             "FROM columns WHERE id >= %s ORDER BY id FOR UPDATE",
                             (merge_from,), binary=True).fetchall()
        if old:
            first_event = min(first_event, *(int(o[0]) for o in old))
            last_event = max(last_event, *(int(o[1]) for o in old))
            n_ev += sum(int(o[2]) for o in old)
            n_inc += sum(int(o[3]) for o in old)
            ev_b, inc_b = _merged([o[2:6] for o in old], ev, inc)
            ids = [int(o[6]) for o in old]
            del old
            db.execute("DELETE FROM columns WHERE id = ANY(%s)", (ids,))
            cid = ids[0]
        else:
            ev_b, inc_b = _pack(ev), _pack(inc)
            cid = self._alloc("columns_seq", 1)
        db.execute("INSERT INTO columns(id, first_event, last_event, n_events, n_inc, events, "
                   "inc) VALUES (%s, %s, %s, %s, %s, %b, %b)",
                   (cid, first_event, last_event, n_ev, n_inc, ev_b, inc_b))

    def _epcs(self, n_nodes: int) -> np.ndarray:
        """Every EPC in node id order, as one text (EPCs hold no newline, else row by row)."""
        db = self._db
        epcs = np.empty(n_nodes, dtype=object)
        if not n_nodes:
            return epcs
        text = db.execute("SELECT string_agg(epc, E'\\n') FROM (SELECT epc FROM nodes "
                          "ORDER BY id) s").fetchone()[0]
        parts = text.split("\n")
        if len(parts) == n_nodes:
            epcs[:] = parts
        else:
            epcs[:] = [r[0] for r in db.execute("SELECT epc FROM nodes ORDER BY id")]
        return epcs

    # -- bulk ------------------------------------------------------------------------------
    def _node_columns(self) -> tuple[np.ndarray, np.ndarray]:
        db = self._db
        n_nodes, max_node = db.execute("SELECT count(*), max(id) FROM nodes").fetchone()
        n_nodes = int(n_nodes)
        if n_nodes == (max_node or 0):
            node_ids = np.arange(1, n_nodes + 1, dtype=np.int64)
        else:
            blob = db.execute("SELECT array_send(array_agg(id ORDER BY id)) FROM nodes",
                              binary=True).fetchone()[0]
            node_ids = _int8_array(blob, n_nodes)
        return node_ids, self._epcs(n_nodes)

    def _column_chunks(self) -> Iterator[tuple[Any, Any, int, int]]:
        # a server-side cursor: one chunk in memory at a time; chunks of concurrent writers
        # may commit out of event order (the assembler sorts)
        with self._db.cursor(name="af_columns", binary=True) as cur:
            cur.itersize = 4
            cur.execute("SELECT events, inc, n_events, n_inc FROM columns ORDER BY "
                        "first_event, id")
            yield from cur

    def version(self) -> tuple[int, ...]:
        """A counter bumped by every commit that adds events, nodes or party identifiers."""
        n = self._one("SELECT n FROM version WHERE id = 1")
        return int(n[0]), 0

    def counts(self) -> dict[str, int]:
        with self.snapshot():
            row = self._db.execute(
                "SELECT (SELECT coalesce(sum(n_events), 0) FROM columns), "
                "(SELECT coalesce(sum(n), 0) FROM batches), (SELECT count(*) FROM parties), "
                "(SELECT count(*) FROM nodes), (SELECT count(*) FROM batches)").fetchone()
        return {"events": int(row[0]), "stamps": int(row[1]), "parties": int(row[2]),
                "nodes": int(row[3]), "batches": int(row[4])}


def _int8_array(blob: bytes, n: int) -> np.ndarray:
    """The values of a one-dimensional int8[] without NULLs in PostgreSQL's binary format."""
    if n == 0:
        return np.zeros(0, np.int64)
    head = 20  # ndim, has-null flag, element type, length, lower bound
    rows = np.frombuffer(blob, dtype=np.dtype([("len", ">i4"), ("v", ">i8")]), count=n,
                         offset=head)
    return rows["v"].astype(np.int64)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


@functools.lru_cache(maxsize=256)
def _format_style(sql: str) -> str:
    """``?`` placeholders to psycopg's ``%s`` (the shared queries hold no other ``?``/``%``)."""
    return sql.replace("?", "%s") if "?" in sql else sql


def _error(exc: BaseException, timeout: float) -> RegistryError:
    """A RegistryError for a psycopg error: waiting too long for another writer's lock is
    "busy", as SQLite's busy timeout."""
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate == "55P03":  # lock_not_available (lock_timeout)
        return RegistryError(f"registry is busy: another writer held it for more than "
                             f"{timeout:g} s")
    if sqlstate == "40P01":
        return RegistryError(f"registry storage error: deadlock detected, retry: {_short(exc)}")
    return RegistryError(f"registry storage error: {_short(exc)}")


def open_postgres(url: str | os.PathLike[str], **options: Any) -> PostgresStorage:
    """What ``open_storage`` calls for a ``postgresql://`` URL."""
    return PostgresStorage(os.fspath(url), **options)
