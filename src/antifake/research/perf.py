"""Time and peak memory against size, each operation beside the baseline a user would write.

Every measurement runs the operation on inputs made before: wall time (the best of up to five
runs while they take under a second in all), and peak memory: the larger of the growth of the
process's peak resident set (reset first through ``/proc/self/clear_refs``) and the peak of the
allocations ``tracemalloc`` traces in one more run.
Baselines are costly at large sizes; each runs up to ``baseline_max`` items (its slope extends
it).

Operations (antifake | baseline):

- ``issue``: `antifake.issue` of n stamps | a Python loop of PyNaCl ``SigningKey.sign``;
- ``verify_many (manifest)`` / ``verify_many (signature)``: `antifake.verify_many` of n QR URLs
  with / without the batch manifest held | a loop of PyNaCl ``VerifyKey.verify``;
- ``snapshot build``: `TraceGraph.from_arrays` of a simulated chain of n items | a networkx
  ``DiGraph`` of nodes, events and containment edges;
- ``history``, ``contents``, ``recall``: 200 item histories, 50 pallet contents, one batch
  recall on that snapshot | SQLite (indexed tables, ``WITH RECURSIVE`` queries);
- ``detection``: `antifake.detect.detect` on the snapshot | the literature baseline rule
  (`antifake.research.baseline`) in numpy.
"""

from __future__ import annotations

import dataclasses
import gc
import math
import os
import sqlite3
import time
import tracemalloc
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np

__all__ = ["OPS", "fit_slope", "measure", "scaling"]

OPS = ("issue", "verify_many (manifest)", "verify_many (signature)", "snapshot build",
       "history", "contents", "recall", "detection")


def _rss_kib(field: str) -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(fn: Callable[[], Any]) -> tuple[float, float]:
    """(wall seconds, peak memory in MiB) of ``fn()``. Time: the best of up to five runs while
    they take under a second in all. Memory: the larger of the growth of the process's peak
    resident set over its size at the start of the first run (the peak reset first through
    ``/proc/self/clear_refs``) and the peak of the allocations `tracemalloc` sees in one more
    run (Python objects and numpy arrays; memory reused without growing the resident set)."""
    gc.collect()
    can = os.path.exists("/proc/self/clear_refs")
    if can:
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            can = False
    start = _rss_kib("VmRSS")
    t = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t
    peak = _rss_kib("VmHWM")
    del out
    spent = dt
    for _ in range(4):  # quick operations: the best of a few runs (the machine is shared)
        if spent > 1.0:
            break
        t = time.perf_counter()
        fn()
        d = time.perf_counter() - t
        spent += d
        dt = min(dt, d)
    rss = (max(0, peak - start) / 1024.0) if can and peak else 0.0
    # memory the process already held is reused without growing the resident set: also
    # trace the allocations (Python objects and numpy arrays) of one more run
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        traced = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    return dt, max(rss, traced)


def fit_slope(sizes: Sequence[float], values: Sequence[float]) -> float:
    """The slope of log(value) against log(size): 1 is linear growth."""
    x = np.log(np.asarray(sizes, dtype=float))
    y = np.log(np.maximum(np.asarray(values, dtype=float), 1e-9))
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2:
        return math.nan
    return float(np.polyfit(x[ok], y[ok], 1)[0])


# ----------------------------------------------------------------------------------------
# baselines
# ----------------------------------------------------------------------------------------
def _sql_db(sim: Any) -> sqlite3.Connection:
    """The snapshot in SQLite as a user would store it: indexed tables of nodes, events,
    incidences and (first) containment."""
    db = sqlite3.connect(":memory:")
    db.executescript("""
        CREATE TABLE node(id INTEGER PRIMARY KEY, epc TEXT, key INT, batch INT);
        CREATE TABLE event(id INTEGER PRIMARY KEY, t INT, kind INT, by INT, dst INT);
        CREATE TABLE inc(node INT, event INT);
        CREATE TABLE agg(child INT, parent INT);
    """)
    db.executemany("INSERT INTO node VALUES (?, ?, ?, ?)",
                   zip(range(sim.n_nodes), sim.epcs.tolist(), sim.node_key.tolist(),
                       sim.node_batch.tolist(), strict=True))
    db.executemany("INSERT INTO event VALUES (?, ?, ?, ?, ?)",
                   zip(range(sim.n_events), sim.ev_time.tolist(), sim.ev_kind.tolist(),
                       sim.ev_by.tolist(), sim.ev_dst.tolist(), strict=True))
    db.executemany("INSERT INTO inc VALUES (?, ?)",
                   zip(sim.inc_node.tolist(), sim.inc_event.tolist(), strict=True))
    from antifake.epcis.kinds import EventKind

    agg = np.flatnonzero(sim.ev_kind[sim.inc_event] == EventKind.AGGREGATE)
    par = sim.agg_parent[sim.inc_event[agg]]
    db.executemany("INSERT OR IGNORE INTO agg VALUES (?, ?)",
                   zip(sim.inc_node[agg].tolist(), par.tolist(), strict=True))
    db.executescript("""
        CREATE INDEX inc_node ON inc(node, event);
        CREATE INDEX agg_child ON agg(child);
        CREATE INDEX agg_parent ON agg(parent);
        CREATE INDEX node_batch ON node(batch, key);
    """)
    return db


_SQL_HISTORY = """
WITH RECURSIVE up(node) AS (SELECT ?1 UNION SELECT a.parent FROM up JOIN agg a ON a.child = up.node)
SELECT e.id FROM event e JOIN inc i ON i.event = e.id WHERE i.node IN (SELECT node FROM up)
ORDER BY e.t, e.id
"""
_SQL_CONTENTS = """
WITH RECURSIVE down(node) AS (SELECT ?1 UNION SELECT a.child FROM down JOIN agg a
                              ON a.parent = down.node)
SELECT n.epc FROM down JOIN node n ON n.id = down.node WHERE down.node != ?1
"""
_SQL_RECALL = """
WITH RECURSIVE items(node) AS (SELECT id FROM node WHERE batch = ?1 AND key = ?2),
up(item, node) AS (SELECT node, node FROM items
                   UNION SELECT up.item, a.parent FROM up JOIN agg a ON a.child = up.node)
SELECT DISTINCT n.epc FROM up JOIN inc i ON i.node = up.node JOIN event e ON e.id = i.event
JOIN node n ON n.id = up.item WHERE e.by = ?3 OR e.dst = ?3
"""


def _each(fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    return [fn(x) for x in items]


def _sql_each(db: sqlite3.Connection, sql: str, ids: Sequence[int]) -> list[Any]:
    return [db.execute(sql, (i,)).fetchall() for i in ids]


def _sql_one(db: sqlite3.Connection, sql: str, args: tuple[Any, ...]) -> list[Any]:
    return db.execute(sql, args).fetchall()


def _networkx_build(sim: Any) -> Any:
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from(sim.epcs.tolist())
    ev = sim.ev_ids.tolist()
    g.add_nodes_from(ev)
    epcs = sim.epcs
    g.add_edges_from(zip(epcs[sim.inc_node].tolist(),
                         [ev[e] for e in sim.inc_event.tolist()], strict=True))
    has = sim.agg_parent >= 0
    g.add_edges_from(zip([ev[e] for e in np.flatnonzero(has).tolist()],
                         epcs[sim.agg_parent[has]].tolist(), strict=True))
    return g


# ----------------------------------------------------------------------------------------
# the sweep
# ----------------------------------------------------------------------------------------
def _chain(n: int) -> Any:
    from antifake.research.sim import SupplyChain

    return SupplyChain(n_items=n, n_retailers=max(20, n // 2000), n_apps=max(50, n // 1000),
                       seed=7)


def scaling(sizes: Sequence[int], *, baseline_max: int = 100_000,
            signature_max: int = 300_000,
            progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Rows (operation, implementation, size, seconds, peak MiB) over ``sizes``; signing and
    signature checks (about 50 and 130 microseconds a stamp on a core) stop at
    ``signature_max``, the baselines at ``baseline_max``."""
    import nacl.signing

    import antifake as af
    from antifake.detect import TraceData, detect
    from antifake.research.baseline import baseline_scores
    from antifake.research.sim import simulate

    rows: list[dict[str, Any]] = []

    def add(op: str, impl: str, n: int, fn: Callable[[], Any]) -> None:
        if progress:
            progress(f"{op} [{impl}] n={n:,}")
        dt, mem = measure(fn)
        rows.append({"operation": op, "implementation": impl, "size": n, "seconds": dt,
                     "peak_mib": mem})

    key = af.IssuerKey.generate("RESEARCH-01")
    sk = nacl.signing.SigningKey.generate()
    for n in sizes:
        # stamps
        if n <= signature_max:
            add("issue", "antifake", n, partial(af.issue, key, n))
            batch = af.issue(key, n)
            urls = batch.urls(base="https://v.example/a")
            ring_m = af.Keyring([key.public])
            ring_m.add_manifest(batch.manifest)
            ring_s = af.Keyring([key.public])
            add("verify_many (manifest)", "antifake", n, partial(af.verify_many, urls, ring_m))
            add("verify_many (signature)", "antifake", n, partial(af.verify_many, urls, ring_s))
            del batch, urls
        if n <= baseline_max:
            msgs = [i.to_bytes(8, "little") * 3 for i in range(n)]
            add("issue", "PyNaCl loop", n, partial(_each, sk.sign, msgs))
            signed = [sk.sign(x) for x in msgs]
            loop = partial(_each, sk.verify_key.verify, signed)
            add("verify_many (manifest)", "PyNaCl loop", n, loop)
            add("verify_many (signature)", "PyNaCl loop", n, loop)
            del msgs, signed
        # trace
        sim = simulate(_chain(n))
        add("snapshot build", "antifake", n, sim.graph)
        graph = sim.graph()
        rng = np.random.default_rng(1)
        items = sim.epcs[rng.integers(0, n, 200)].tolist()
        pallets = sim.epcs[sim.truth.pallet_nodes[
            rng.integers(0, len(sim.truth.pallet_nodes), 50)]].tolist()
        key_id = int(sim.node_key[0])
        dist = sim.parties[int(sim.truth.item_distributor[0])]
        add("history", "antifake", n, partial(_each, graph.history, items))
        add("contents", "antifake", n, partial(_each, graph.contents, pallets))
        add("recall", "antifake", n, partial(graph.recall, batch_id=0, key_id=key_id, via=dist))
        data = TraceData.from_simulation(sim, graph)
        add("detection", "antifake", n, partial(detect, data))
        if n <= baseline_max:
            add("snapshot build", "networkx", n, partial(_networkx_build, sim))
            db = _sql_db(sim)
            item_ids = [int(np.flatnonzero(sim.epcs == c)[0]) for c in items]
            pal_ids = [int(np.flatnonzero(sim.epcs == c)[0]) for c in pallets]
            d_id = int(sim.truth.item_distributor[0])
            add("history", "SQLite", n, partial(_sql_each, db, _SQL_HISTORY, item_ids))
            add("contents", "SQLite", n, partial(_sql_each, db, _SQL_CONTENTS, pal_ids))
            add("recall", "SQLite", n, partial(_sql_one, db, _SQL_RECALL, (0, key_id, d_id)))
            db.close()
        if n <= baseline_max * 10:
            from antifake.research.attacks import AttackedSimulation

            asim = AttackedSimulation(**{f.name: getattr(sim, f.name)
                                         for f in dataclasses.fields(sim)})
            add("detection", "literature rule (numpy)", n, partial(baseline_scores, asim))
        del sim, graph, data
    return rows
