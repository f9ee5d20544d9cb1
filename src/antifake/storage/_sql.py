"""What the SQL backends share: packed column chunks, the row queries both run (written once
with ``?`` placeholders, adapted per driver) and the assembly of the trace-graph columns."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from antifake.errors import RegistryError
from antifake.storage._packed import (
    _graph_arrays,
    _names,
    _unpack,
    fold_parties,
)
from antifake.storage.abc import (
    EV_DTYPE,
    INC_DTYPE,
    EventRow,
    Inserted,
    NodeState,
    StampRow,
    Suspicion,
    TraceColumns,
)

_IN_CHUNK = 500  # bound parameters per IN (...) list: portable and well under every limit
_dump_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def _chunks(seq: Sequence[Any], size: int = _IN_CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(seq), size):
        yield seq[i: i + size]


def _now_us() -> int:
    return time.time_ns() // 1000


# registered stamps that are decommissioned, claimed or suspected (_SQLRows.overlay_rows)
_OVERLAY_NODES = (
    "(SELECT node, state, reason, claim FROM lifecycle WHERE state <> 0 OR claim = 1 "
    "UNION SELECT node, 0, NULL, 0 FROM suspicions WHERE node NOT IN "
    "(SELECT node FROM lifecycle WHERE state <> 0 OR claim = 1)) l ")
_OVERLAY_SUSPECTED = "CASE WHEN EXISTS (SELECT 1 FROM suspicions x WHERE x.node = l.node) " \
    "THEN 1 ELSE 0 END"
_OVERLAY_SQL = (
    "SELECT b.key_id, b.batch_id, b.first_index + (l.node - b.first_node), l.state, l.reason, "  # noqa: S608 - constants only
    "l.claim, " + _OVERLAY_SUSPECTED + " FROM " + _OVERLAY_NODES
    + "JOIN batches b ON l.node >= b.first_node AND l.node < b.first_node + b.n "
    "WHERE l.node NOT IN (SELECT node FROM stamp_nodes) UNION ALL "
    "SELECT b.key_id, b.batch_id, s.idx, l.state, l.reason, l.claim, " + _OVERLAY_SUSPECTED
    + " FROM " + _OVERLAY_NODES
    + "JOIN stamp_nodes s ON s.node = l.node JOIN batches b ON b.id = s.batch")


#: The columns of an events row, in the order of `_Fresh.sql`.
EVENT_COLUMNS = ("id, hash, time_us, kind, by_party, src, dst, parent, lat, lon, recorded_us, "
                 "ctx, first_node, n_nodes, doc, detail")


class _Fresh(NamedTuple):
    """A new event ready to store: its events row, its packed-column row and its nodes."""

    sql: tuple[Any, ...]  # EVENT_COLUMNS
    ev: tuple[Any, ...]  # EV_DTYPE
    nodes: np.ndarray | list[int]  # distinct, in the order given
    ranged: bool  # stored as a node range (first_node, n_nodes): no incidence rows


class _SQLRows:
    """What the SQLite and PostgreSQL backends share: the row queries both run, written once
    with ``?`` placeholders (`_x` adapts them to the driver), and the error mapping."""

    _db: Any
    _lock: threading.RLock
    _tx: str | None
    _canonical: Callable[[str], str | None] | None
    _ctx_cache: dict[str, int]  # context ids committed
    _pending_ctx: dict[str, int]  # context ids of the open transaction
    _party_cache: dict[str, int]  # party row ids committed
    _pending_parties: dict[str, int]  # party row ids of the open transaction
    _pending_ev: Any  # event rows of the open transaction, flushed into packed columns
    _pending_inc: Any
    #: the driver's exception classes, turned into RegistryError by `_storage_error`
    _db_errors: tuple[type[Exception], ...] = (sqlite3.Error,)

    def _x(self, sql: str, args: Sequence[Any] | Mapping[str, Any] = ()) -> Any:
        """Execute ``sql`` (``?`` placeholders) on the connection; returns the cursor."""
        return self._db.execute(sql, args)

    def _xmany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Execute ``sql`` (``?`` placeholders) once per row."""
        self._db.executemany(sql, rows)

    def _where_in(self, column: str, values: Sequence[Any]
                  ) -> Iterator[tuple[str, list[Any]]]:
        """``(condition, arguments)`` pairs that together select ``column`` in ``values``
        (none for no values): bounded ``IN (?, ...)`` lists."""
        for part in _chunks(values):
            yield f"{column} IN ({','.join('?' * len(part))})", list(part)

    def _stream(self, sql: str, args: Sequence[Any]) -> Iterator[Any]:
        """The rows of a long query, fetched a batch at a time."""
        cur = self._x(sql, args)
        while batch := cur.fetchmany(2048):
            yield from batch

    def _storage_error(self, exc: BaseException) -> RegistryError:
        return RegistryError(f"registry storage error: {exc}")

    def _rollback(self) -> None:
        with contextlib.suppress(*self._db_errors):
            self._x("ROLLBACK")

    def _need_tx(self) -> None:
        if self._tx != "write":
            raise RegistryError("internal: write outside a transaction")

    def close(self) -> None:
        with self._lock, contextlib.suppress(*self._db_errors):
            self._db.close()

    @contextlib.contextmanager
    def _reading(self) -> Iterator[Any]:
        with self._lock:
            try:
                yield self._db
            except self._db_errors as exc:
                raise self._storage_error(exc) from exc

    def _one(self, sql: str, args: Sequence[Any] | Mapping[str, Any] = ()) -> Any:
        try:
            with self._lock:
                return self._x(sql, args).fetchone()
        except self._db_errors as exc:
            raise self._storage_error(exc) from exc

    def _all(self, sql: str, args: Sequence[Any] | Mapping[str, Any] = ()) -> list[Any]:
        try:
            with self._lock:
                return self._x(sql, args).fetchall()
        except self._db_errors as exc:
            raise self._storage_error(exc) from exc

    def event_rows(self, hashes: Sequence[bytes]
                   ) -> dict[bytes, tuple[dict[str, Any], int | None]]:
        """``hash -> (EPCIS event dict, context id)`` of the stored events among ``hashes``
        (a registered batch's commissioning events with their ``epcList`` restored)."""
        out: dict[bytes, tuple[dict[str, Any], int | None]] = {}
        for chunk in _chunks(list(dict.fromkeys(bytes(h) for h in hashes))):
            marks = ", ".join("?" * len(chunk))
            rows = self._all("SELECT hash, doc, ctx, first_node, n_nodes FROM events "  # noqa: S608
                             f"WHERE hash IN ({marks})", list(chunk))
            for h, doc, ctx, first_node, n_nodes in rows:
                d = json.loads(doc) if isinstance(doc, str | bytes) else dict(doc)
                if first_node is not None:
                    epcs = [r[0] for r in self._all(
                        "SELECT epc FROM nodes WHERE id BETWEEN ? AND ? ORDER BY id",
                        (first_node, first_node + n_nodes - 1))]
                    d = _with_list(d, "epcList", epcs)
                out[bytes(h)] = (d, ctx)
        return out

    #: Rows the graph snapshot reads besides the packed columns (portable SQL).
    _PARTY_ROWS = "SELECT id, name, role, region, lat, lon FROM parties ORDER BY id"
    _DETAIL_ROWS = "SELECT id, detail FROM events WHERE detail <> 0"

    # -- events -----------------------------------------------------------------------------
    def _event_ids(self, hashes: list[bytes]) -> dict[bytes, int]:
        """The stored event id of each hash stored."""
        known: dict[bytes, int] = {}
        for cond, args in self._where_in("hash", hashes):
            for eid, h in self._x(f"SELECT id, hash FROM events WHERE {cond}", args):  # noqa: S608
                known[bytes(h)] = int(eid)
        return known

    def _next_event_ids(self, n: int) -> int:
        """The first of ``n`` fresh consecutive event ids."""
        raise NotImplementedError

    def _create_nodes(self, new: list[str]) -> dict[str, int]:
        """Create nodes for EPCs not stored; returns their ids."""
        raise NotImplementedError

    def _node_ids(self, keys: Iterable[str]) -> dict[str, int]:
        """Node ids of EPCs, creating the unknown ones (inside a transaction). An EPC not
        stored as written but whose canonical form is (a GS1 EPC URN of a registered stamp)
        is that node; other new EPCs are stored as written."""
        uniq = list(dict.fromkeys(keys))
        out = self._lookup_nodes(uniq)
        new = [k for k in uniq if k not in out]
        new, alias = self._canonical_keys(new, out)
        if new:
            out.update(self._create_nodes(new))
        out.update((k, out[c]) for k, c in alias.items())
        return out

    def _store_events(self, fresh: list[int], new_rows: list[EventRow], prepared: list[_Fresh],
                      known: dict[bytes, int], out: list[Inserted | None]) -> None:
        """Write the prepared rows; fill ``out`` at their positions ``fresh`` and ``known``."""
        raise NotImplementedError

    def insert_events(self, rows: Sequence[EventRow]) -> list[Inserted]:
        """Store events idempotently (a hash already stored, or met earlier in ``rows``, is
        skipped, also against concurrent writers); parties and nodes they name are created as
        needed."""
        self._need_tx()
        known = self._event_ids(list({r.hash for r in rows}))
        fresh: list[int] = []
        claimed: set[bytes] = set()
        for k, r in enumerate(rows):
            if r.hash not in known and r.hash not in claimed:
                claimed.add(r.hash)
                fresh.append(k)
        out: list[Inserted | None] = [None] * len(rows)
        if fresh:
            new_rows = [rows[k] for k in fresh]
            parties = self.party_ids(p for r in new_rows for p in (r.by, r.src, r.dst) if p)
            keys = [e for r in new_rows if r.nodes is None for e in r.epcs]
            keys += [r.parent for r in new_rows if r.parent is not None]
            node_of = self._node_ids(keys) if keys else {}
            nxt = self._next_event_ids(len(new_rows))
            now = _now_us()
            prepared = [self._prepare(r, nxt + j, node_of, parties, now)
                        for j, r in enumerate(new_rows)]
            self._store_events(fresh, new_rows, prepared, known, out)
        for k, r in enumerate(rows):
            if out[k] is None:
                out[k] = Inserted(known[r.hash], False)
        return out  # type: ignore[return-value]

    def _prepare(self, r: EventRow, eid: int, node_of: Mapping[str, int],
                 parties: Mapping[str, int], now: int) -> _Fresh:
        doc = r.doc
        first_node = n_nodes = None
        nodes: np.ndarray | list[int]
        if r.nodes is not None:
            arr = np.asarray(r.nodes, dtype=np.int64)
            if len(arr) > 1:
                _, first = np.unique(arr, return_index=True)
                if len(first) != len(arr):
                    arr = arr[np.sort(first)]
            if (r.range_key is not None and r.range_key in doc and len(arr)
                    and int(arr[-1]) - int(arr[0]) == len(arr) - 1
                    and bool(np.all(np.diff(arr) == 1))):
                doc = {k2: v for k2, v in doc.items() if k2 != r.range_key}
                first_node, n_nodes = int(arr[0]), len(arr)
            nodes = arr
        else:
            nodes = [node_of[e] for e in r.epcs]
            if len(nodes) > 1:
                nodes = list(dict.fromkeys(nodes))
        parent = node_of[r.parent] if r.parent is not None else None
        by = parties[r.by] if r.by else None
        src = parties[r.src] if r.src else None
        dst = parties[r.dst] if r.dst else None
        sql = (eid, r.hash, r.time_us, int(r.kind), by, src, dst, parent, r.lat, r.lon, now,
               self._ctx_id(r.namespaces), first_node, n_nodes, _dump_json(doc), int(r.detail))
        ev = (eid, r.time_us, now, -1 if parent is None else parent, -1 if by is None else by,
              -1 if src is None else src, -1 if dst is None else dst, int(r.kind),
              np.nan if r.lat is None else r.lat, np.nan if r.lon is None else r.lon, r.hash)
        return _Fresh(sql, ev, nodes, first_node is not None)

    def last_event(self, node: int) -> tuple[bytes, int] | None:
        row = self._one(
            "SELECT hash, time_us FROM events WHERE id IN ("
            " SELECT event FROM incidence WHERE node = ?"
            " UNION ALL SELECT id FROM events WHERE parent = ?"
            " UNION ALL SELECT id FROM (SELECT id, first_node, n_nodes FROM events"
            "   WHERE first_node IS NOT NULL AND first_node <= ?"
            "   ORDER BY first_node DESC LIMIT 1) r WHERE first_node + n_nodes > ?)"
            " ORDER BY time_us DESC, id DESC LIMIT 1", (node, node, node, node))
        return None if row is None else (bytes(row[0]), int(row[1]))

    #: the SQL function that finds a substring (``instr`` in SQLite, ``strpos`` in PostgreSQL)
    _FIND = "instr"

    def uses_text(self, needle: str, ctx_ids: Sequence[int | None],
                  since_us: int | None) -> bool:
        """Whether the JSON of an event read with one of these contexts (None: the default)
        and with ``time >= since_us`` contains ``needle``."""
        ids = [c for c in ctx_ids if c is not None]
        conds = []
        if ids:
            conds.append(f"ctx IN ({','.join('?' * len(ids))})")
        if None in ctx_ids:
            conds.append("ctx IS NULL")
        if not conds:
            return False
        sql = (f"SELECT 1 FROM events WHERE {self._FIND}(doc, ?) > 0 "  # noqa: S608
               f"AND ({' OR '.join(conds)})")
        args: list[Any] = [needle, *ids]
        if since_us is not None:
            sql += " AND time_us >= ?"
            args.append(since_us)
        return self._one(sql + " LIMIT 1", args) is not None

    def export_rows(self, since_us: int | None
                    ) -> Iterator[tuple[bytes, dict[str, Any], int | None]]:
        """``(hash, EPCIS event dict, context id)`` of every event (``time >= since_us``) in
        the order they were recorded; call inside ``snapshot``."""
        where, args = ("WHERE time_us >= ?", (since_us,)) if since_us is not None else ("", ())
        for h, doc, ctx, first_node, n_nodes in self._stream(
                f"SELECT hash, doc, ctx, first_node, n_nodes FROM events {where} "  # noqa: S608
                "ORDER BY id", args):
            d = json.loads(doc)
            if first_node is not None:
                epcs = [r[0] for r in self._x(
                    "SELECT epc FROM nodes WHERE id BETWEEN ? AND ? ORDER BY id",
                    (first_node, first_node + n_nodes - 1))]
                d = _with_list(d, "epcList", epcs)
            yield bytes(h), d, ctx

    # -- lifecycle -------------------------------------------------------------------------
    def _lock_nodes(self, ids: list[int]) -> None:
        """Inside a write transaction: lock these nodes' rows until the commit (a backend
        whose writers hold the whole store's lock need not)."""

    def states(self, nodes: Sequence[int]) -> dict[int, NodeState]:
        """Lifecycle state of nodes; inside a write transaction what is read here cannot
        change before the commit."""
        out = {int(n): NodeState(int(n)) for n in nodes}
        if not out:
            return out
        ids = sorted(out)
        with self._reading():
            if self._tx == "write":
                self._lock_nodes(ids)
            for cond, args in self._where_in("node", ids):
                for row in self._x(
                        "SELECT node, state, reason, since_us, claim, wrong_pins, attempts, "  # noqa: S608
                        f"claim_us FROM lifecycle WHERE {cond}", args):
                    out[int(row[0])] = NodeState(*row)
        return out

    # -- suspected copies ------------------------------------------------------------------
    def suspicions(self, nodes: Sequence[int] | None = None) -> dict[int, Suspicion]:
        """Suspicions of ``nodes`` (None: all)."""
        out: dict[int, Suspicion] = {}
        sql = "SELECT node, kind, score, since_us, evidence FROM suspicions"
        parts = ([(sql + " ORDER BY node", [])] if nodes is None else
                 [(f"{sql} WHERE {c}", a)
                  for c, a in self._where_in("node", sorted({int(n) for n in nodes}))])
        with self._reading():
            for q, args in parts:
                for row in self._x(q, args):
                    out[int(row[0])] = Suspicion(int(row[0]), row[1], float(row[2]),
                                                 int(row[3]), row[4])
        return out

    def put_suspicions(self, rows: Sequence[Suspicion]) -> None:
        """Store suspicions; a node keeps the strongest one (ties: the newer)."""
        self._need_tx()
        if not rows:
            return
        with self._reading():
            self._xmany(
                "INSERT INTO suspicions(node, kind, score, since_us, evidence) "
                "VALUES (?,?,?,?,?) ON CONFLICT (node) DO UPDATE SET kind = excluded.kind, "
                "score = excluded.score, since_us = excluded.since_us, "
                "evidence = excluded.evidence WHERE excluded.score >= suspicions.score",
                [(r.node, r.kind, r.score, r.since_us, r.evidence)
                 for r in sorted(rows, key=lambda r: r.node)])

    def clear_suspicions(self, nodes: Sequence[int]) -> int:
        self._need_tx()
        n = 0
        with self._reading():
            for cond, args in self._where_in("node", sorted({int(x) for x in nodes})):
                n += int(self._x(f"DELETE FROM suspicions WHERE {cond}", args).rowcount)  # noqa: S608
        return n

    # -- consistency ------------------------------------------------------------------------
    def _engine_checks(self, problems: list[str]) -> list[str]:
        """The database engine's own checks (adds to ``problems``); returns its integrity
        report."""
        return ["ok"]

    def check(self) -> dict[str, Any]:
        """Consistency of the store: the engine's own checks and the invariants between
        tables (every batch complete, commissioning ranges disjoint, column store = event rows,
        no duplicate hashes)."""
        problems: list[str] = []
        with self.snapshot():
            x = self._x
            integrity = self._engine_checks(problems)
            n_events = int(x("SELECT count(*) FROM events").fetchone()[0])
            c_ev, c_inc = (int(v) for v in x(
                "SELECT coalesce(sum(n_events), 0), coalesce(sum(n_inc), 0) FROM columns"
            ).fetchone())
            if c_ev != n_events:
                problems.append(f"column store holds {c_ev} events, the table {n_events}")
            n_inc = int(x("SELECT count(*) FROM incidence").fetchone()[0])
            n_range = int(x("SELECT coalesce(sum(n_nodes), 0) FROM events "
                            "WHERE first_node IS NOT NULL").fetchone()[0])
            if c_inc != n_inc + n_range:
                problems.append(f"column store holds {c_inc} incidences, the tables "
                                f"{n_inc} + {n_range} in ranges")
            for bid, first_node, n in x("SELECT id, first_node, n FROM batches").fetchall():
                have = x("SELECT count(*) FROM nodes WHERE id >= ? AND id < ?",
                         (first_node, first_node + n)).fetchone()[0]
                moved = x("SELECT count(*) FROM stamp_nodes WHERE batch = ?",
                          (bid,)).fetchone()[0]
                if have + moved != n:
                    problems.append(f"batch row {bid}: {have + moved} of {n} stamps stored")
                covered = x("SELECT coalesce(sum(n_nodes), 0) FROM events WHERE first_node >= ? "
                            "AND first_node < ?", (first_node, first_node + n)).fetchone()[0]
                if covered > n:
                    problems.append(f"batch row {bid}: commissioning ranges overlap")
            dup = x("SELECT count(*) - count(DISTINCT hash) FROM events").fetchone()[0]
            if dup:
                problems.append(f"{dup} duplicate event hashes")
        return {"ok": not problems, "problems": problems, "integrity": integrity,
                "events": n_events, "incidences": n_inc + n_range}

    # -- packed columns ---------------------------------------------------------------------
    def _pending_columns(self) -> tuple[np.ndarray, np.ndarray] | None:
        """This transaction's packed event and incidence rows, or None when it wrote none."""
        if not self._pending_ev:
            return None
        ev = np.concatenate(self._pending_ev)
        inc = np.concatenate(self._pending_inc)
        return (ev, inc) if len(ev) else None

    # -- transactions -------------------------------------------------------------------------
    #: the statements that open a write and a read transaction (each backend sets its own)
    _BEGIN_WRITE = "BEGIN"
    _BEGIN_READ = "BEGIN"

    def _begin(self, stmt: str) -> None:
        raise NotImplementedError  # each backend names its busy and lock errors

    def _flush_columns(self) -> None:
        raise NotImplementedError

    def _before_commit(self) -> None:
        """The last writes of a transaction, just before its COMMIT."""
        self._flush_columns()

    def _after_write(self) -> None:
        """Forget what the transaction held pending, committed or not."""
        self._pending_ev.clear()
        self._pending_inc.clear()
        self._pending_parties.clear()
        self._pending_ctx.clear()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic write: ``COMMIT`` on success, ``ROLLBACK`` on any exception. Nested calls
        join the outer transaction. What is read inside cannot change before the commit (the
        backend's write lock or row locks)."""
        with self._lock:
            if self._tx == "write":
                yield
                return
            if self._tx == "read":
                raise RegistryError("internal: a write inside a read snapshot")
            self._begin(self._BEGIN_WRITE)
            self._tx = "write"
            try:
                yield
                self._before_commit()
                self._x("COMMIT")
            except self._db_errors as exc:
                self._rollback()
                raise self._storage_error(exc) from exc
            except BaseException:
                self._rollback()
                raise
            else:
                self._party_cache.update(self._pending_parties)
                self._ctx_cache.update(self._pending_ctx)
            finally:
                self._tx = None
                self._after_write()

    # -- the snapshot -----------------------------------------------------------------------
    @contextlib.contextmanager
    def committed_reads(self) -> Iterator[None]:
        """Reads that need no common snapshot, each statement seeing what was committed (for
        rows that never change once committed, such as the transparency log's nodes): a read
        transaction where it costs nothing (SQLite, in process), none where it would cost
        round trips to the server (PostgreSQL: each statement is its own)."""
        with self.snapshot():
            yield

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """A read transaction: every read inside sees one committed state."""
        with self._lock:
            if self._tx is not None:
                yield
                return
            self._begin(self._BEGIN_READ)
            self._tx = "read"
            try:
                yield
            except self._db_errors as exc:
                raise self._storage_error(exc) from exc
            finally:
                self._tx = None
                with contextlib.suppress(*self._db_errors):
                    self._x("COMMIT")

    def version(self) -> tuple[int, ...]:
        raise NotImplementedError

    def _node_columns(self) -> tuple[np.ndarray, np.ndarray]:
        """(node ids ascending, their EPCs) of every node."""
        raise NotImplementedError

    def _column_chunks(self) -> Iterator[tuple[Any, Any, int, int]]:
        """The packed column chunks ``(events, incidences, n_events, n_inc)``."""
        yield from self._x("SELECT events, inc, n_events, n_inc FROM columns ORDER BY id")

    def graph_columns(self) -> TraceColumns:
        """The store as columns, read in one snapshot (events in id order)."""
        with self.snapshot():
            version = self.version()
            node_ids, epcs = self._node_columns()
            prow = self._x(self._PARTY_ROWS).fetchall()
            details = self._x(self._DETAIL_ROWS).fetchall()
            n_ev, n_inc = (int(x) for x in self._x(
                "SELECT coalesce(sum(n_events), 0), coalesce(sum(n_inc), 0) FROM columns"
            ).fetchone())
            ev = {f: np.empty(n_ev, dtype=EV_DTYPE[f]) for f in _names(EV_DTYPE)}
            inc = {f: np.empty(n_inc, dtype=INC_DTYPE[f]) for f in _names(INC_DTYPE)}
            pe = pi = 0
            for ev_b, inc_b, ne, ni in self._column_chunks():
                ne, ni = int(ne), int(ni)
                a = _unpack(ev_b, EV_DTYPE, ne)
                b = _unpack(inc_b, INC_DTYPE, ni)
                for f in _names(EV_DTYPE):
                    ev[f][pe: pe + ne] = a[f]
                for f in _names(INC_DTYPE):
                    inc[f][pi: pi + ni] = b[f]
                pe, pi = pe + ne, pi + ni
                del a, b, ev_b, inc_b
            if pe != n_ev or pi != n_inc:
                raise RegistryError("column store sizes disagree (run Registry.check())")
            batches = self._x("SELECT id, key_id, batch_id, first_node, n FROM batches"
                              ).fetchall()
            exceptions = self._x("SELECT s.node, b.key_id, b.batch_id FROM stamp_nodes s "
                                 "JOIN batches b ON b.id = s.batch").fetchall()
            glns = self.party_glns()
        return fold_parties(_graph_arrays(version, epcs, node_ids, prow, ev, inc, batches,
                                          exceptions, details), glns)

    # -- parties -----------------------------------------------------------------------------
    def _party_rows_named(self, names: list[str]) -> list[tuple[int, str]]:
        """``(id, name)`` of the stored parties among ``names``."""
        raise NotImplementedError

    def _create_parties(self, names: list[str]) -> dict[str, int]:
        """Create parties ``names`` (none stored); their row ids."""
        raise NotImplementedError

    def party_ids(self, names: Iterable[str]) -> dict[str, int]:
        """Row ids of parties by name, creating the unknown ones (inside a transaction)."""
        self._need_tx()
        out: dict[str, int] = {}
        missing = []
        for name in set(names):
            pid = self._party_cache.get(name, self._pending_parties.get(name))
            if pid is None:
                missing.append(name)
            else:
                out[name] = pid
        if missing:
            out.update((str(n), int(i)) for i, n in self._party_rows_named(missing))
            new = [n for n in missing if n not in out]
            if new:
                out.update(self._create_parties(new))
            for name in missing:
                self._pending_parties[name] = out[name]
        return out

    # -- parties' GS1 identifiers and claim trust ------------------------------------------
    def _upsert_party(self, name: str, role: str | None, region: str | None,
                      lat: float | None, lon: float | None) -> int:
        """Create or update a party row (a None keeps the stored value); returns its id."""
        raise NotImplementedError

    def add_party(self, name: str, role: str | None, region: str | None,
                  lat: float | None, lon: float | None) -> int:
        """Create or update a party (inside a transaction); every connection's next snapshot
        shows the change."""
        self._need_tx()
        pid = self._upsert_party(name, role, region, lat, lon)
        self._pending_parties[name] = pid
        self._parties_changed()
        return pid

    def _parties_changed(self) -> None:
        """A committed change of parties that a snapshot shows (a backend whose version does
        not follow party rows marks it here)."""

    def set_party_glns(self, party: int, keys: Sequence[tuple[str, str]]) -> None:
        """Give party row ``party`` these ``(gln key, kind)`` identifiers (inside a transaction);
        a key that names another party already raises `RegistryError`."""
        self._need_tx()
        for key, kind in keys:
            row = self._x("SELECT p.name, g.party FROM party_glns g JOIN parties p "
                          "ON p.id = g.party WHERE g.key = ?", (key,)).fetchone()
            if row is not None and int(row[1]) != party:
                raise RegistryError(f"{kind.upper()} {key} belongs to party {row[0]!r} already")
            if self._x("INSERT INTO party_glns(key, party, kind) VALUES (?, ?, ?) "
                       "ON CONFLICT (key) DO NOTHING", (key, party, kind)).rowcount:
                self._parties_changed()

    def party_glns(self) -> dict[str, str]:
        """Every GS1 identifier key and the party id (name) it belongs to."""
        return {str(k): str(n) for k, n in self._all(
            "SELECT g.key, p.name FROM party_glns g JOIN parties p ON p.id = g.party")}

    def party_for_gln(self, key: str) -> str | None:
        """The party id (name) that has the GS1 identifier ``key``, if any."""
        row = self._one("SELECT p.name FROM party_glns g JOIN parties p ON p.id = g.party "
                        "WHERE g.key = ?", (key,))
        return None if row is None else str(row[0])

    def claim_parties(self) -> frozenset[str]:
        """Party ids whose claim events change claim states (kept in ``meta``)."""
        row = self._one("SELECT value FROM meta WHERE key = 'claim_parties'")
        return frozenset(json.loads(row[0])) if row else frozenset()

    def set_claim_party(self, name: str, trusted: bool) -> None:
        self._need_tx()
        names = set(self.claim_parties())
        (names.add if trusted else names.discard)(name)
        self._x("INSERT INTO meta(key, value) VALUES ('claim_parties', ?) ON CONFLICT (key) "
                "DO UPDATE SET value = excluded.value", (json.dumps(sorted(names)),))

    def party_rows(self) -> list[tuple[Any, ...]]:
        return self._all("SELECT name, role, region, lat, lon FROM parties ORDER BY id")

    def scan_summary(self, node: int, kind: int) -> tuple[int, int | None, Any]:
        """How many events of ``kind`` name ``node`` itself (listed, or as a one-EPC range),
        the time of the first, and ``(lat, lon)`` of the first with a position (or None)."""
        sel = ("FROM events WHERE kind = ? AND (first_node = ? OR id IN "
               "(SELECT event FROM incidence WHERE node = ?))")
        n, first = self._one(f"SELECT count(*), min(time_us) {sel}", (kind, node, node))  # noqa: S608
        where = self._one(f"SELECT lat, lon {sel} AND lat IS NOT NULL AND lon IS NOT NULL "  # noqa: S608
                          "ORDER BY time_us, id LIMIT 1", (kind, node, node))
        return int(n), None if first is None else int(first), \
            None if where is None else (float(where[0]), float(where[1]))

    def overlay_rows(self) -> list[tuple[Any, ...]]:
        """``(key_id, batch_id, index, state, reason, claim, suspected)`` of every registered
        stamp that is decommissioned, claimed or suspected (what bulk verification adds to
        the signature check)."""
        return self._all(_OVERLAY_SQL)

    def _stamp_row(self, node: int, b: Sequence[Any], idx: int) -> StampRow | None:
        row = self._x("SELECT epc, serial FROM nodes WHERE id = ?", (node,)).fetchone()
        if row is None:
            return None
        serial = None if row[1] is None else int(row[1]) & 0xFFFF_FFFF_FFFF_FFFF
        return StampRow(node, row[0], b[0], int(b[1]), int(b[2]), idx, serial)

    def stamp_by_index(self, issuer: str, key_id: int, batch_id: int,
                       index: int) -> StampRow | None:
        with self._reading():
            b = self._x(
                "SELECT issuer, key_id, batch_id, id, first_index, first_node FROM batches "
                "WHERE issuer = ? AND key_id = ? AND batch_id = ? AND first_index <= ? "
                "AND first_index + n > ? ORDER BY first_index DESC LIMIT 1",
                (issuer, key_id, batch_id, index, index)).fetchone()
            if b is None:
                return None
            ex = self._x("SELECT node FROM stamp_nodes WHERE batch = ? AND idx = ?",
                                  (b[3], index)).fetchone()
            node = int(ex[0]) if ex else int(b[5]) + index - int(b[4])
            return self._stamp_row(node, b, index)

    def stamp_by_node(self, node: int) -> StampRow | None:
        with self._reading():
            ex = self._x(
                "SELECT b.issuer, b.key_id, b.batch_id, s.idx FROM stamp_nodes s "
                "JOIN batches b ON b.id = s.batch WHERE s.node = ?", (node,)).fetchone()
            if ex is not None:
                return self._stamp_row(node, ex, int(ex[3]))
            b = self._x(
                "SELECT issuer, key_id, batch_id, id, first_index, first_node, n FROM batches "
                "WHERE first_node <= ? ORDER BY first_node DESC LIMIT 1", (node,)).fetchone()
            if b is None or node >= int(b[5]) + int(b[6]):
                return None
            idx = int(b[4]) + node - int(b[5])
            taken = self._x("SELECT 1 FROM stamp_nodes WHERE batch = ? AND idx = ?",
                                     (b[3], idx)).fetchone()
            if taken is not None:  # a hole: this id was never this stamp's node
                return None
            return self._stamp_row(node, b, idx)

    def _canonical_keys(self, new: list[str], out: dict[str, int]
                        ) -> tuple[list[str], dict[str, str]]:
        """Which of the EPCs ``new`` (not stored as written) name a node already, through
        their canonical GS1 Digital Link (filled into ``out``); returns the keys to create
        (each GS1 EPC under its canonical form, others as written) and, for each EPC created
        under another key, that key."""
        if self._canonical is None:
            return new, {}
        alias: dict[str, str] = {}
        for k in new:
            c = self._canonical(k)
            if c is not None and c != k:
                alias[k] = c
        if alias:
            found = self._lookup_nodes(list(set(alias.values())))
            for k, c in alias.items():
                if c in found:
                    out[k] = found[c]
        create = list(dict.fromkeys(alias.get(k, k) for k in new if k not in out))
        return create, {k: c for k, c in alias.items() if k not in out}

    def _lookup_nodes(self, keys: Sequence[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for cond, args in self._where_in("epc", keys):
            for nid, epc in self._x(f"SELECT id, epc FROM nodes WHERE {cond}", args):  # noqa: S608
                out[epc] = int(nid)
        return out

    def node_by_key(self, key: str) -> int | None:
        """The node of an EPC, as written or (failing that) in its canonical form."""
        row = self._one("SELECT id FROM nodes WHERE epc = ?", (key,))
        if row is None and self._canonical is not None:
            alias = self._canonical(key)
            if alias is not None and alias != key:
                row = self._one("SELECT id FROM nodes WHERE epc = ?", (alias,))
        return None if row is None else int(row[0])

    def node_epc(self, node: int) -> str:
        row = self._one("SELECT epc FROM nodes WHERE id = ?", (node,))
        if row is None:
            raise RegistryError(f"internal: no node {node}")
        return str(row[0])

    def _ctx_id(self, ns: Mapping[str, str] | None) -> int | None:
        if ns is None:
            return None
        text = json.dumps(dict(ns), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        cid = self._ctx_cache.get(text, self._pending_ctx.get(text))
        if cid is None:
            self._x("INSERT INTO contexts(ns) VALUES (?) ON CONFLICT(ns) DO NOTHING",
                             (text,))
            cid = int(self._x("SELECT id FROM contexts WHERE ns = ?",
                                       (text,)).fetchone()[0])
            self._pending_ctx[text] = cid
        return cid

    def contexts(self) -> dict[int, dict[str, str]]:
        return {int(i): json.loads(ns) for i, ns in self._all("SELECT id, ns FROM contexts")}

    def put_state(self, s: NodeState) -> None:
        self._need_tx()
        self._x(
            "INSERT INTO lifecycle(node, state, reason, since_us, claim, wrong_pins, attempts, "
            "claim_us) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(node) DO UPDATE SET "
            "state = excluded.state, reason = excluded.reason, since_us = excluded.since_us, "
            "claim = excluded.claim, wrong_pins = excluded.wrong_pins, "
            "attempts = excluded.attempts, claim_us = excluded.claim_us",
            (s.node, s.state, s.reason, s.since_us, s.claim, s.wrong_pins, s.attempts,
             s.claim_us))


def _with_list(d: dict[str, Any], key: str, values: list[str]) -> dict[str, Any]:
    """``d`` with ``key`` restored after the event's time fields (where EPCIS puts lists)."""
    out: dict[str, Any] = {}
    placed = False
    for k, v in d.items():
        out[k] = v
        if k == "eventTimeZoneOffset" and not placed:
            out[key] = values
            placed = True
    if not placed:
        out[key] = values
    return out


