"""The SQLite registry backend (the default): one file, WAL, one transaction per write.

It implements the [`Storage`][antifake.storage.abc.Storage] protocol; the SQL it shares with the
PostgreSQL backend (portable where that is cheap: ``ON CONFLICT``, integer keys, no triggers)
lives in `antifake.storage._sql`, and what is SQLite's own is here: connection set-up, DDL and
locking.

Data model (schema version 1)
-----------------------------
``parties``      one row per party id (role, region, coordinates); events name parties by row.
``party_glns``   (schema 4) the GS1 identifiers of parties: ``key`` is
                 [`gln_key`][antifake.gs1.gln_key] of a PGLN (``417:...``) or an SGLN location
                 (``414:...``); each names one party.
``nodes``        one row per EPC ever seen (stamps, containers, EPCs of imported events), keyed
                 by its canonical form (GS1 EPC URNs become canonical Digital Links, as in the
                 CBV 2.0 hash), with the 64-bit serial of a stamp.
``batches``      one row per registered batch (or streamed chunk of one): issuer, key id, batch
                 id, index range, a digest of its stamps, and ``first_node``: stamp ``i`` of the
                 batch is node ``first_node + i - first_index``, except for the few stamps whose
                 EPC was already a node (listed in ``stamp_nodes``). No row per stamp is needed,
                 so 1 M stamps are 1 M ``nodes`` rows and nothing else; the ``stamps`` view shows
                 them as (epc, issuer, key_id, batch_id, idx, serial) rows.
``events``       one row per event: the 32-byte CBV 2.0 hash (unique: re-submitting is a
                 no-op), time, `EventKind`, parties, aggregation
                 parent, coordinates, and the EPCIS JSON as written. A commissioning event of a
                 registered batch covers a node range (``first_node``, ``n_nodes``) and leaves
                 its ``epcList`` to the ``nodes`` rows.
``incidence``    (node, event) for every EPC an event lists (range events excepted).
``lifecycle``    sparse state per node: decommissioned (reason, since) and claim state (claimed
                 / locked, wrong PINs, attempts). Absent row: active and unclaimed.
``columns``      the integer columns of the events and incidences, packed as little-endian
                 arrays (``EV_DTYPE``, ``INC_DTYPE``) in append-only chunks written in the same
                 transaction as the rows.
                 [`Storage.graph_columns`][antifake.storage.abc.Storage.graph_columns] reads a few
                 blobs instead of millions of rows (``sqlite3`` needs about 2 us per row and column:
                 8 s for 4 M events). Small chunks are merged as they accumulate (a binary counter:
                 each chunk is more than twice the next, so there are O(log n) of them and a row is
                 rewritten O(log n) times), up to ``CHUNK_CAP`` rows.
``contexts``     the JSON-LD namespaces of events read from other documents.
``meta``         schema version (also in ``PRAGMA user_version``), creation data.

SQLite settings
---------------
WAL journal (readers never block the writer and see a consistent snapshot); every write is one
``BEGIN IMMEDIATE`` transaction, so a read-check-write (a claim) is atomic across threads and
processes; ``busy_timeout`` lets writers queue instead of failing; ``foreign_keys=ON``.

``synchronous=FULL`` by default. In WAL mode NORMAL is already safe against a crashed or killed
process (a committed transaction is in the WAL, which the OS holds), and never corrupts the
database; what it gives up is durability of the last transactions on power loss or an OS crash.
The registry records legal facts (a decommissioning, the first claim of a stamp, after which a
second claim is proof of a copy): losing an acknowledged claim would let a copy be claimed as
genuine. FULL costs one ``fsync`` of the WAL per commit, which bulk writes (``register``,
``record_many``, ``import_epcis``: one transaction each) amortise and a claim (a person typing a
PIN) does not notice. Bulk loaders that can replay their input may pass ``synchronous="normal"``.
"""


from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from antifake.errors import RegistryError
from antifake.storage._packed import (
    _merge_from,
    _merged,
    _pack,
)
from antifake.storage._sql import (
    EVENT_COLUMNS,
    _chunks,
    _Fresh,
    _now_us,
    _SQLRows,
)
from antifake.storage._upgrade import DATA_STEPS
from antifake.storage.abc import (
    CHUNK_CAP,
    EV_DTYPE,
    INC_DTYPE,
    SCHEMA_VERSION,
    BatchPart,
    EventRow,
    Inserted,
)
from antifake.storage.schema import MIGRATIONS

__all__ = ["APPLICATION_ID", "SQLiteStorage"]

APPLICATION_ID = 0x4146_5247  # "AFRG" in PRAGMA application_id: an antifake registry file

class SQLiteStorage(_SQLRows):
    """The SQLite backend (see the module documentation for the schema and settings).

    ``path`` is a file path or ``":memory:"``; ``timeout`` (seconds) is how long a writer waits
    for another one; ``synchronous`` is ``"full"`` (default) or ``"normal"``. One connection,
    shared by the threads of one process under a lock; other processes open their own.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0,
                 synchronous: str = "full", cache_mb: int = 256,
                 canonical: Callable[[str], str | None] | None = None) -> None:
        sync = str(synchronous).lower()
        if sync not in ("full", "normal", "extra"):
            raise RegistryError(f"synchronous must be 'full', 'normal' or 'extra', not "
                                f"{synchronous!r}")
        self.path = os.fspath(path)
        self.url = "sqlite:///" + self.path
        self._canonical = canonical
        self._lock = threading.RLock()
        self._tx: str | None = None  # "write", "read" or None
        self._pending_ev: list[np.ndarray] = []
        self._pending_inc: list[np.ndarray] = []
        self._party_cache: dict[str, int] = {}
        self._pending_parties: dict[str, int] = {}
        self._ctx_cache: dict[str, int] = {}
        self._pending_ctx: dict[str, int] = {}
        self._timeout = float(timeout)
        try:
            if self.path != ":memory:":
                parent = Path(self.path).resolve().parent
                if not parent.is_dir():
                    raise RegistryError(f"no such directory for the registry: {parent}")
            self._db = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None,
                                       check_same_thread=False)
        except sqlite3.Error as exc:
            raise RegistryError(f"cannot open registry {self.path!r}: {exc}") from None
        try:
            self._configure(sync, cache_mb)
            self._migrate()
        except BaseException:
            self._db.close()
            raise

    # -- set-up (SQLite specific) ----------------------------------------------------------
    def _configure(self, sync: str, cache_mb: int) -> None:
        db = self._db
        try:
            db.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
            if self.path != ":memory:":
                mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise RegistryError(f"cannot switch {self.path!r} to WAL mode ({mode})")
            db.execute(f"PRAGMA synchronous = {sync.upper()}")
            db.execute("PRAGMA foreign_keys = ON")
            db.execute(f"PRAGMA cache_size = {-1024 * int(cache_mb)}")
            db.execute("PRAGMA temp_store = MEMORY")
            db.execute(f"PRAGMA journal_size_limit = {64 * 1024 * 1024}")
        except sqlite3.DatabaseError as exc:
            raise RegistryError(f"{self.path!r} is not a usable SQLite database: {exc}") from None

    def _migrate(self) -> None:
        db = self._db
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            app = db.execute("PRAGMA application_id").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise RegistryError(f"{self.path!r} is not a usable SQLite database: {exc}") from None
        self._check_version(version, app)
        if version == SCHEMA_VERSION:
            self._check_meta()
            return
        with self.transaction():  # re-read under the write lock: another process may be here
            version = db.execute("PRAGMA user_version").fetchone()[0]
            app = db.execute("PRAGMA application_id").fetchone()[0]
            self._check_version(version, app)
            if version == 0:
                n = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
                if n:
                    raise RegistryError(f"{self.path!r} is an SQLite database but not an "
                                        "antifake registry")
            for v in range(version + 1, SCHEMA_VERSION + 1):
                self._run_script(MIGRATIONS[v])
                if version > 0 and v in DATA_STEPS:
                    DATA_STEPS[v](self._x)
                db.execute(f"PRAGMA user_version = {v}")
            from antifake._version import __version__

            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            meta = {"schema_version": str(SCHEMA_VERSION), "format": "antifake-registry",
                    "written_by": f"antifake {__version__}"}
            if version == 0:
                meta["created_us"] = str(_now_us())
            db.executemany("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) "
                           "DO UPDATE SET value = excluded.value", list(meta.items()))
        self._check_meta()

    def _run_script(self, script: str) -> None:
        # executescript would COMMIT the open transaction: run statement by statement
        for stmt in script.split(";\n"):
            if stmt.strip():
                self._db.execute(stmt)

    def _check_version(self, version: int, app: int) -> None:
        if version > SCHEMA_VERSION:
            raise RegistryError(
                f"registry {self.path!r} has schema version {version}, newer than this antifake "
                f"supports ({SCHEMA_VERSION}); upgrade antifake to open it")
        if version > 0 and app != APPLICATION_ID:
            raise RegistryError(f"{self.path!r} is an SQLite database but not an antifake "
                                "registry (application_id differs)")

    def _check_meta(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None or row[0] != str(SCHEMA_VERSION):
            raise RegistryError(f"registry {self.path!r}: meta.schema_version {row and row[0]!r}"
                                f" disagrees with PRAGMA user_version {SCHEMA_VERSION}")

    # -- transactions ----------------------------------------------------------------------
    # BEGIN IMMEDIATE takes the write lock first, so what is read inside cannot change before
    # the commit.
    _BEGIN_WRITE = "BEGIN IMMEDIATE"
    _BEGIN_READ = "BEGIN"

    def _begin(self, stmt: str) -> None:
        try:
            self._db.execute(stmt)
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise RegistryError(f"registry is busy: another writer held it for more than "
                                    f"{self._timeout:g} s") from None
            raise RegistryError(f"cannot start a transaction: {exc}") from None

    # -- parties ---------------------------------------------------------------------------
    def _upsert_party(self, name: str, role: str | None, region: str | None,
                      lat: float | None, lon: float | None) -> int:
        self._db.execute(
            "INSERT INTO parties(name, role, region, lat, lon) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET role = coalesce(excluded.role, role), "
            "region = coalesce(excluded.region, region), lat = coalesce(excluded.lat, lat), "
            "lon = coalesce(excluded.lon, lon)", (name, role, region, lat, lon))
        return int(self._db.execute("SELECT id FROM parties WHERE name = ?", (name,)
                                    ).fetchone()[0])

    def _parties_changed(self) -> None:
        """Count the change in meta, where `version` reads it: other connections' snapshots
        see a party's new role, region or place, not only new events."""
        self._db.execute("INSERT INTO meta(key, value) VALUES ('parties_version', '1') "
                         "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1")

    def _party_rows_named(self, names: list[str]) -> list[tuple[int, str]]:
        out: list[tuple[int, str]] = []
        for part in _chunks(names):
            q = ",".join("?" * len(part))
            out += self._db.execute(
                f"SELECT id, name FROM parties WHERE name IN ({q})", list(part)).fetchall()  # noqa: S608
        return out

    def _create_parties(self, names: list[str]) -> dict[str, int]:
        nxt = (self._db.execute("SELECT max(id) FROM parties").fetchone()[0] or 0) + 1
        rows = [(nxt + i, n) for i, n in enumerate(names)]
        self._db.executemany("INSERT INTO parties(id, name) VALUES (?, ?)", rows)
        return {n: i for i, n in rows}

    # -- stamps ----------------------------------------------------------------------------
    def batch_parts(self, issuer: str, key_id: int, batch_id: int) -> list[BatchPart]:
        rows = self._all(
            "SELECT id, first_index, n, digest, first_node FROM batches "
            "WHERE issuer = ? AND key_id = ? AND batch_id = ? ORDER BY first_index",
            (issuer, key_id, batch_id))
        return [BatchPart(issuer, key_id, batch_id, int(fi), int(n), bytes(d), row=int(r),
                          first_node=int(fn)) for r, fi, n, d, fn in rows]

    def _next_node(self) -> int:
        a = self._db.execute("SELECT max(id) FROM nodes").fetchone()[0] or 0
        b = self._db.execute("SELECT max(first_node + n - 1) FROM batches").fetchone()[0] or 0
        return max(int(a), int(b)) + 1

    def insert_batch(self, part: BatchPart, epcs: Sequence[str],
                     serials: np.ndarray) -> np.ndarray:
        """Store a batch part and its stamps' nodes; returns the node id of every stamp.

        Stamp ``i`` gets node ``first_node + i``; a stamp whose EPC is already a node (an
        imported event named it before it was registered) keeps that node, listed in
        ``stamp_nodes``; one that is already a registered stamp is refused."""
        self._need_tx()
        db = self._db
        n = len(epcs)
        if n != part.n or len(serials) != n:
            raise RegistryError("internal: batch part, EPCs and serials disagree")
        owner = self.party_ids([part.owner])[part.owner] if part.owner else None
        first = self._next_node()
        cur = db.execute(
            "INSERT INTO batches(issuer, key_id, batch_id, first_index, n, first_node, digest, "
            "owner, gtin, lot, expiry, registered_us) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (part.issuer, part.key_id, part.batch_id, part.first_index, n, first, part.digest,
             owner, part.gtin, part.lot, part.expiry, part.registered_us))
        part.row = int(cur.lastrowid)
        part.first_node = first
        sers = np.ascontiguousarray(serials, dtype=np.uint64).view(np.int64).tolist()
        before = db.total_changes
        db.executemany("INSERT INTO nodes(id, epc, serial) VALUES (?, ?, ?) "
                       "ON CONFLICT(epc) DO NOTHING",
                       zip(range(first, first + n), epcs, sers, strict=True))
        nodes = np.arange(first, first + n, dtype=np.int64)
        if db.total_changes - before != n:
            present = np.fromiter(
                (r[0] for r in db.execute("SELECT id FROM nodes WHERE id BETWEEN ? AND ?",
                                          (first, first + n - 1))), dtype=np.int64)
            holes = np.setdiff1d(nodes, present)
            for i in (holes - first).tolist():
                row = db.execute("SELECT id, serial FROM nodes WHERE epc = ?",
                                 (epcs[i],)).fetchone()
                node = int(row[0])
                if row[1] is not None or self.stamp_by_node(node) is not None:
                    raise RegistryError(f"stamp {epcs[i]} is already registered in another "
                                        "batch")
                db.execute("UPDATE nodes SET serial = ? WHERE id = ?", (sers[i], node))
                db.execute("INSERT INTO stamp_nodes(batch, idx, node) VALUES (?, ?, ?)",
                           (part.row, part.first_index + i, node))
                nodes[i] = node
        return nodes

    def _create_nodes(self, new: list[str]) -> dict[str, int]:
        nxt = self._next_node()
        rows = [(nxt + i, k) for i, k in enumerate(new)]
        self._db.executemany("INSERT INTO nodes(id, epc) VALUES (?, ?)", rows)
        return {k: i for i, k in rows}

    # -- events ----------------------------------------------------------------------------
    def _next_event_ids(self, n: int) -> int:
        return (self._db.execute("SELECT max(id) FROM events").fetchone()[0] or 0) + 1

    def _store_events(self, fresh: list[int], new_rows: list[EventRow], prepared: list[_Fresh],
                      known: dict[bytes, int], out: list[Inserted | None]) -> None:
        db = self._db
        inc_parts: list[np.ndarray] = []  # incidence of rows that came with node arrays
        inc_ev: list[int] = []
        inc_node: list[int] = []
        sql_inc: list[tuple[int, int]] = []
        for k, p in zip(fresh, prepared, strict=True):
            eid = p.sql[0]
            if isinstance(p.nodes, np.ndarray):
                if not p.ranged:
                    sql_inc.extend(zip(p.nodes.tolist(), [eid] * len(p.nodes), strict=True))
                inc_part = np.empty(len(p.nodes), dtype=INC_DTYPE)
                inc_part["event"] = eid
                inc_part["node"] = p.nodes
                inc_parts.append(inc_part)
                nodes = p.nodes.tolist()
            else:
                nodes = p.nodes
                sql_inc.extend((n, eid) for n in nodes)
                inc_ev.extend([eid] * len(nodes))
                inc_node.extend(nodes)
            out[k] = Inserted(eid, True, nodes)
        db.executemany(f"INSERT INTO events({EVENT_COLUMNS}) "  # noqa: S608
                       "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", [p.sql for p in prepared])
        db.executemany("INSERT INTO incidence(node, event) VALUES (?, ?) "
                       "ON CONFLICT DO NOTHING", sql_inc)
        ev = np.array([p.ev for p in prepared], dtype=EV_DTYPE)
        small = np.empty(len(inc_ev), dtype=INC_DTYPE)
        small["event"] = inc_ev
        small["node"] = inc_node
        # incidence in event order (node-array rows and the others may interleave)
        inc = np.concatenate([*inc_parts, small]) if inc_parts else small
        if inc_parts and len(small):
            inc = inc[np.argsort(inc["event"], kind="stable")]
        self._pending_ev.append(ev)
        self._pending_inc.append(inc)
        for r, p in zip(new_rows, prepared, strict=True):
            known.setdefault(r.hash, p.sql[0])

    def _flush_columns(self) -> None:
        """Append this transaction's packed columns, merging small trailing chunks."""
        pending = self._pending_columns()
        if pending is None:
            return
        ev, inc = pending
        db = self._db
        tail = db.execute("SELECT id, n_events + n_inc FROM columns ORDER BY id DESC LIMIT 64"
                          ).fetchall()
        merge_from = _merge_from(tail, len(ev) + len(inc), CHUNK_CAP)
        first_event, n_ev, n_inc = int(ev["event"][0]), len(ev), len(inc)
        if merge_from is not None:
            old = db.execute("SELECT first_event, n_events, n_inc, events, inc FROM columns "
                             "WHERE id >= ? ORDER BY id", (merge_from,)).fetchall()
            first_event = int(old[0][0])
            n_ev += sum(int(o[1]) for o in old)
            n_inc += sum(int(o[2]) for o in old)
            ev_b, inc_b = _merged([o[1:] for o in old], ev, inc)
            del old
            db.execute("DELETE FROM columns WHERE id >= ?", (merge_from,))
        else:
            ev_b, inc_b = _pack(ev), _pack(inc)
        db.execute("INSERT INTO columns(id, first_event, last_event, n_events, n_inc, events, "
                   "inc) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (merge_from, first_event, int(ev["event"][-1]), n_ev, n_inc, ev_b, inc_b))

    # -- bulk ------------------------------------------------------------------------------
    def _node_columns(self) -> tuple[np.ndarray, np.ndarray]:
        db = self._db
        n_nodes, max_node = db.execute("SELECT count(*), max(id) FROM nodes").fetchone()
        n_nodes = int(n_nodes)
        if n_nodes == (max_node or 0):
            node_ids = np.arange(1, n_nodes + 1, dtype=np.int64)
            cur = db.execute("SELECT epc FROM nodes ORDER BY id")
            epcs = np.empty(n_nodes, dtype=object)
            epcs[:] = [r[0] for r in cur.fetchall()]
        else:
            rows = db.execute("SELECT id, epc FROM nodes ORDER BY id").fetchall()
            node_ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            epcs = np.empty(len(rows), dtype=object)
            epcs[:] = [r[1] for r in rows]
        return node_ids, epcs

    def version(self) -> tuple[int, ...]:
        """(last event row, last node row, party changes): changes whenever the graph would,
        whichever connection made the change."""
        with self.snapshot():
            e = self._db.execute("SELECT max(last_event) FROM columns").fetchone()[0]
            n = self._db.execute("SELECT max(id) FROM nodes").fetchone()[0]
            p = self._db.execute("SELECT value FROM meta WHERE key = 'parties_version'"
                                 ).fetchone()
        return int(e or 0), int(n or 0), int(p[0]) if p else 0

    def counts(self) -> dict[str, int]:
        with self.snapshot():
            db = self._db
            events = db.execute("SELECT coalesce(sum(n_events), 0) FROM columns").fetchone()[0]
            stamps = db.execute("SELECT coalesce(sum(n), 0) FROM batches").fetchone()[0]
            parties = db.execute("SELECT count(*) FROM parties").fetchone()[0]
            nodes = db.execute("SELECT count(*) FROM nodes").fetchone()[0]
            batches = db.execute("SELECT count(*) FROM batches").fetchone()[0]
        return {"events": int(events), "stamps": int(stamps), "parties": int(parties),
                "nodes": int(nodes), "batches": int(batches)}

    def _engine_checks(self, problems: list[str]) -> list[str]:
        """SQLite's integrity and foreign-key checks; event ids dense and all packed."""
        db = self._db
        integrity = [r[0] for r in db.execute("PRAGMA integrity_check").fetchall()]
        if integrity != ["ok"]:
            problems += [f"integrity: {m}" for m in integrity[:20]]
        fk = db.execute("PRAGMA foreign_key_check").fetchall()
        if fk:
            problems.append(f"{len(fk)} foreign key violations, e.g. {fk[0]}")
        n_events, max_event = db.execute("SELECT count(*), max(id) FROM events").fetchone()
        if n_events != (max_event or 0):
            problems.append(f"event ids are not dense: {n_events} rows, max id {max_event}")
        c_last = db.execute("SELECT max(last_event) FROM columns").fetchone()[0]
        if (c_last or 0) != (max_event or 0):
            problems.append(f"column store ends at event {c_last}, the table at {max_event}")
        return integrity

