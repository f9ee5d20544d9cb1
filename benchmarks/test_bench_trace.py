"""Trace-graph benchmarks: snapshot build, history, pallet contents and recall, beside networkx
and SQLite recursive SQL.

Run (full size, about 1 M items / 4 M events)::

    pytest benchmarks/test_bench_trace.py -s --benchmark-columns=median,mean,rounds

Smoke (CI)::

    ANTIFAKE_BENCH_ITEMS=5000 pytest benchmarks/test_bench_trace.py --benchmark-disable

``ANTIFAKE_BENCH_ITEMS`` (default 1,000,000) sizes the antifake run. The baselines are built
from a second simulation of ``ANTIFAKE_BENCH_BASELINE_ITEMS`` items (default 100,000, capped at
``ANTIFAKE_BENCH_ITEMS``) with the same structure (40 items a case, 50 cases a pallet, 10,000
items a batch): building a networkx graph or an SQLite database of 4 M events takes minutes and
gigabytes. Their queries are local (a walk up a few containers, a pallet's 2,000 items, a
batch's 10,000 items), so their cost hardly depends on the total size; antifake is measured on
both sizes and the ratios are taken on the same (smaller) data, with the full-size antifake
numbers beside them. A table is printed at the end of the module.
"""

from __future__ import annotations

import gc
import itertools
import os
import resource
import sqlite3
import statistics
import time
import tracemalloc
from collections import defaultdict

import networkx as nx
import numpy as np
import pytest

from antifake.epcis.kinds import EventKind as K
from antifake.graph import TraceGraph
from antifake.research.sim import DELIVERED, SupplyChain, simulate
from reporting import print_uncaptured

N_ITEMS = int(os.environ.get("ANTIFAKE_BENCH_ITEMS", "1000000"))
N_BASE = min(N_ITEMS, int(os.environ.get("ANTIFAKE_BENCH_BASELINE_ITEMS", "100000")))
SEED = 20250101
TARGETS = {"history": 50e-6, "contents": 100e-6, "recall": 1e-3}  # seconds per query

RESULTS: dict[tuple[str, str], float] = {}  # (operation, implementation) -> seconds per call
NOTES: list[str] = []


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------
def own_timing(fn, min_time=0.05, max_calls=10_000):
    """Median seconds per call over a few batches (used when pytest-benchmark is disabled)."""
    fn()
    times = []
    calls = 0
    t_end = time.perf_counter() + min_time
    while calls < 3 or (time.perf_counter() < t_end and calls < max_calls):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
        calls += 1
    return statistics.median(times)


def record(benchmark, key, fn, rounds=None):
    """Run ``fn`` under pytest-benchmark and keep its median (seconds per call)."""
    if rounds is None:
        benchmark(fn)
    else:
        benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=0)
    stats = getattr(benchmark, "stats", None)
    if stats is not None and getattr(stats, "stats", None) is not None:
        RESULTS[key] = stats.stats.median
    else:
        RESULTS[key] = own_timing(fn, min_time=0.02 if rounds else 0.05,
                                  max_calls=3 if rounds else 10_000)


def cycling(fn, args):
    it = itertools.cycle(args)
    return lambda: fn(next(it))


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def chain_params(n):
    return SupplyChain(n_items=n, seed=SEED)


# ---------------------------------------------------------------------------------------
# fixtures: simulations, snapshots, baselines (built once per module)
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module", autouse=True)
def report(request):
    yield
    print_uncaptured(request, print_report)


def print_report():
    write = print
    write("")
    write(f"trace graph: antifake at {N_ITEMS:,} items; baselines at {N_BASE:,} items")
    for line in NOTES:
        write("  " + line)
    small_head = ("antifake@" + format(N_BASE, ",") if N_BASE != N_ITEMS
                  else "again (baselines)")  # two equal sizes: not two identical headers
    head = (f"  {'query':<10} {'antifake@' + format(N_ITEMS, ','):>18} "
            f"{small_head:>18} {'networkx':>12} {'sqlite':>12} "
            f"{'nx/af':>8} {'sql/af':>8}  target")
    write(head)
    for op in ("history", "contents", "recall"):
        big = RESULTS.get((op, "antifake"))
        small = RESULTS.get((op, "antifake_base"))
        nxt = RESULTS.get((op, "networkx"))
        sql = RESULTS.get((op, "sqlite"))

        def fmt(x):
            return f"{x * 1e6:10.1f} us" if x is not None else f"{'-':>13}"

        def ratio(b):
            return f"{b / small:7.0f}x" if b is not None and small else f"{'-':>8}"

        target = TARGETS[op]
        verdict = "" if big is None else ("met" if big <= target else "MISSED")
        write(f"  {op:<10} {fmt(big):>18} {fmt(small):>18} {fmt(nxt):>12} {fmt(sql):>12} "
              f"{ratio(nxt)} {ratio(sql)}  <= {target * 1e6:.0f} us {verdict}")


@pytest.fixture(scope="module")
def big_sim():
    t = time.perf_counter()
    sim = simulate(chain_params(N_ITEMS))
    NOTES.append(f"simulation: {sim.n_items:,} items, {sim.n_nodes:,} nodes, "
                 f"{sim.n_events:,} events, {len(sim.inc_event):,} incidence rows "
                 f"in {time.perf_counter() - t:.1f} s")
    return sim


@pytest.fixture(scope="module")
def big_graph(big_sim):
    gc.collect()
    rss0 = rss_mb()
    t = time.perf_counter()
    g = big_sim.graph()
    dt = time.perf_counter() - t
    rss1 = rss_mb()
    steps = ", ".join(f"{k} {v:.2f}" for k, v in g.stats()["build_steps"].items())
    NOTES.append(f"snapshot build {dt:.2f} s (first build; steps, s: {steps})")
    NOTES.append(f"snapshot arrays {g.stats()['memory_bytes'] / 2**20:.0f} MiB "
                 f"({g.stats()['memory_bytes'] / max(big_sim.n_items, 1) * 1e6 / 2**20:.0f} "
                 f"MiB per 1 M items); RSS +{rss1 - rss0:.0f} MiB")
    return g


@pytest.fixture(scope="module")
def base_sim(big_sim):
    if N_BASE == N_ITEMS:
        return big_sim
    return simulate(chain_params(N_BASE))


@pytest.fixture(scope="module")
def base_graph(base_sim, big_graph, big_sim):
    return big_graph if base_sim is big_sim else base_sim.graph()


def fresh(texts):
    """Equal strings that are new objects (a query's text does not come from the snapshot)."""
    return [t[:1] + t[1:] for t in texts]


def sample_items(sim, k=1000, seed=1):
    rng = np.random.default_rng(seed)
    return fresh(sim.epcs[rng.integers(0, sim.n_items, min(k, max(sim.n_items, 1)))].tolist())


def full_containers(sim, graph, k=50):
    """EPCs of still-packed pallets (or else the fullest containers)."""
    t = sim.truth
    pallets = t.pallet_nodes[t.pallet_state != DELIVERED]
    if len(pallets) == 0:
        cont = np.arange(sim.n_items, sim.n_nodes)
        sizes = np.array([len(graph.contents(sim.epcs[c])) for c in cont])
        pallets = cont[np.argsort(-sizes)][:k]
    return fresh(sim.epcs[pallets[:k]].tolist())


def recall_queries(sim, k=20, seed=2):
    """(batch_id, key_id, via) triples: a batch and a distributor that handled part of it."""
    rng = np.random.default_rng(seed)
    t = sim.truth
    out = []
    for i in rng.integers(0, sim.n_items, k).tolist():
        out.append((int(sim.node_batch[i]), int(sim.node_key[i]),
                    str(sim.parties[t.item_distributor[i]])))
    return out


# ---------------------------------------------------------------------------------------
# antifake
# ---------------------------------------------------------------------------------------
def test_build(benchmark, big_sim, big_graph):
    g = big_graph  # built once already (its time is in the notes)
    rounds = 3 if N_ITEMS <= 2_000_000 else 1
    benchmark.pedantic(big_sim.graph, rounds=rounds, iterations=1, warmup_rounds=0)
    assert g.stats()["events"] == big_sim.n_events


def test_build_memory(big_sim, big_graph):
    gc.collect()
    tracemalloc.start()
    g = big_sim.graph()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    per_m = 1e6 / max(big_sim.n_items, 1)
    NOTES.append(f"snapshot memory (tracemalloc): retained {current / 2**20:.0f} MiB, peak "
                 f"{peak / 2**20:.0f} MiB during the build ({current / 2**20 * per_m:.0f} / "
                 f"{peak / 2**20 * per_m:.0f} MiB per 1 M items; the caller's string arrays "
                 f"are shared, not counted)")
    assert g.stats()["memory_bytes"] <= current + 2**20
    del g


def test_history(benchmark, big_sim, big_graph):
    items = sample_items(big_sim)
    record(benchmark, ("history", "antifake"), cycling(big_graph.history, items))
    assert len(big_graph.history(items[0])) >= 1


def test_contents_pallet(benchmark, big_sim, big_graph):
    pallets = full_containers(big_sim, big_graph)
    record(benchmark, ("contents", "antifake"), cycling(big_graph.contents, pallets))
    NOTES.append(f"pallet contents: {np.mean([len(big_graph.contents(p)) for p in pallets]):.0f}"
                 f" codes per pallet")


def test_recall(benchmark, big_sim, big_graph):
    qs = recall_queries(big_sim)
    record(benchmark, ("recall", "antifake"),
           cycling(lambda q: big_graph.recall(batch_id=q[0], key_id=q[1], via=q[2]), qs))
    n = [len(big_graph.recall(batch_id=b, key_id=k).codes) for b, k, _ in qs]
    m = [len(big_graph.recall(batch_id=b, key_id=k, via=v).codes) for b, k, v in qs]
    NOTES.append(f"recall: batches of {np.mean(n):.0f} items, {np.mean(m):.0f} of them via the "
                 f"distributor")


def test_custodian_at(benchmark, big_sim, big_graph):
    items = sample_items(big_sim)
    t_mid = int(np.median(big_sim.ev_time))
    benchmark(cycling(lambda e: big_graph.custodian(e, t_mid), items))


# ---------------------------------------------------------------------------------------
# antifake on the baseline data (same data as the baselines: the ratios use these)
# ---------------------------------------------------------------------------------------
def test_history_base(benchmark, base_sim, base_graph):
    record(benchmark, ("history", "antifake_base"),
           cycling(base_graph.history, sample_items(base_sim)))


def test_contents_base(benchmark, base_sim, base_graph):
    record(benchmark, ("contents", "antifake_base"),
           cycling(base_graph.contents, full_containers(base_sim, base_graph)))


def test_recall_base(benchmark, base_sim, base_graph):
    record(benchmark, ("recall", "antifake_base"),
           cycling(lambda q: base_graph.recall(batch_id=q[0], key_id=q[1], via=q[2]),
                   recall_queries(base_sim)))


# ---------------------------------------------------------------------------------------
# networkx: a DiGraph of stamps, containers and events, as a user would write it
# ---------------------------------------------------------------------------------------
INF = 1 << 62


def is_ancestor(parent, c, p):
    """Whether ``c`` is ``p`` or one of its containers (``parent``: child -> parent)."""
    while p is not None:
        if p == c:
            return True
        p = parent.get(p)
    return False


class NxTrace:
    """Event nodes point at the stamps they concern; containers point at their children with
    the rank intervals of each stay (from a replay in time order when loading)."""

    def __init__(self, sim):
        a = sim.arrays()
        order = np.lexsort((np.arange(sim.n_events), a["ev_time"]))
        rank = np.empty(sim.n_events, dtype=np.int64)
        rank[order] = np.arange(sim.n_events)
        self.epcs = a["epcs"].tolist()
        self.parties = a["parties"].tolist()
        self.node_of = {e: i for i, e in enumerate(self.epcs)}
        g = nx.DiGraph()
        kind, by, src, dst = (a[k].tolist() for k in ("ev_kind", "ev_by", "ev_src", "ev_dst"))
        par = a["agg_parent"].tolist()
        for i in range(sim.n_nodes):
            g.add_node(i, batch=int(a["node_batch"][i]), key=int(a["node_key"][i]))
        rows = defaultdict(list)
        for e, n in zip(a["inc_event"].tolist(), a["inc_node"].tolist()):
            rows[e].append(n)
        for e in range(sim.n_events):
            r = int(rank[e])
            g.add_node(("e", r), kind=kind[e], by=by[e], src=src[e], dst=dst[e], idx=e)
            for n in rows[e]:
                g.add_edge(("e", r), n)
            if par[e] >= 0:
                g.add_edge(("e", r), par[e])
        # containment stays, replaying aggregation events in time order
        parent = {}
        for e in order.tolist():
            k, p, r = kind[e], par[e], int(rank[e])
            if p < 0 or k not in (K.AGGREGATE, K.DISAGGREGATE):
                continue
            if k == K.AGGREGATE:
                for c in rows[e]:
                    if c == p or parent.get(c) == p or is_ancestor(parent, c, p):
                        continue
                    if c in parent:
                        g.edges[parent[c], c]["spans"][-1][1] = r
                    parent[c] = p
                    if not g.has_edge(p, c):
                        g.add_edge(p, c, spans=[])
                    g.edges[p, c]["spans"].append([r, INF])
            else:
                for c in rows[e] or [c for c in g.successors(p)
                                     if g.edges[p, c]["spans"][-1][1] == INF]:
                    if parent.get(c) == p:
                        g.edges[p, c]["spans"][-1][1] = r + 1
                        del parent[c]
        self.g = g
        self.by_batch = defaultdict(list)
        for i in range(sim.n_items):
            self.by_batch[(int(a["node_batch"][i]), int(a["node_key"][i]))].append(i)
        self.times = a["ev_time"][order].tolist()

    def _ranks(self, node):
        g = self.g
        out = set()
        stack = [(node, 0, INF)]
        while stack:
            x, lo, hi = stack.pop()
            for pred in g.predecessors(x):
                if isinstance(pred, tuple):  # an event concerning x
                    if lo <= pred[1] < hi:
                        out.add(pred[1])
                else:  # a container of x
                    for a, b in g.edges[pred, x]["spans"]:
                        a, b = max(a, lo), min(b, hi)
                        if a < b:
                            stack.append((pred, a, b))
        return sorted(out)

    def history(self, epc):
        g = self.g
        return [g.nodes[("e", r)]["idx"] for r in self._ranks(self.node_of[epc])]

    def contents(self, epc):
        g = self.g
        out = []
        stack = [self.node_of[epc]]
        while stack:
            x = stack.pop()
            for c in g.successors(x):
                if g.edges[x, c]["spans"][-1][1] == INF:
                    out.append(self.epcs[c])
                    stack.append(c)
        return out

    def recall(self, batch_id, key_id, via):
        g = self.g
        pv = self.parties.index(via)
        codes, custodians = [], []
        for n in self.by_batch.get((batch_id, key_id), []):
            held, cust = False, -1
            for r in self._ranks(n):
                ev = g.nodes[("e", r)]
                k = ev["kind"]
                if k == K.COMMISSION:
                    cust = ev["by"]
                elif k == K.SHIP and max(ev["src"], ev["by"]) >= 0:
                    cust = ev["src"] if ev["src"] >= 0 else ev["by"]
                elif k == K.RECEIVE and max(ev["by"], ev["dst"]) >= 0:
                    cust = ev["by"] if ev["by"] >= 0 else ev["dst"]
                elif k == K.SELL:
                    cust = -1
                held = held or cust == pv
            if held:
                codes.append(self.epcs[n])
                custodians.append(None if cust < 0 else self.parties[cust])
        return codes, custodians


# ---------------------------------------------------------------------------------------
# SQLite: indexed tables and WITH RECURSIVE queries
# ---------------------------------------------------------------------------------------
SCHEMA = """
CREATE TABLE party(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE node(id INTEGER PRIMARY KEY, epc TEXT UNIQUE NOT NULL, key INT, batch INT);
CREATE TABLE event(rank INTEGER PRIMARY KEY, idx INT, id TEXT, t INT, kind INT,
                   by INT, src INT, dst INT);
CREATE TABLE inc(node INT NOT NULL, rank INT NOT NULL);   -- own events (rows and parent)
CREATE TABLE agg(child INT NOT NULL, parent INT NOT NULL, start INT NOT NULL, stop INT NOT NULL);
"""
INDEXES = """
CREATE INDEX inc_node ON inc(node, rank);
CREATE INDEX agg_child ON agg(child, start);
CREATE INDEX agg_parent ON agg(parent, stop);
CREATE INDEX node_batch ON node(batch, key);
"""
SQL_HISTORY = """
WITH RECURSIVE up(node, lo, hi) AS (
  SELECT ?1, 0, ?2
  UNION ALL
  SELECT a.parent, max(up.lo, a.start), min(up.hi, a.stop)
  FROM up JOIN agg a ON a.child = up.node
  WHERE max(up.lo, a.start) < min(up.hi, a.stop)
)
SELECT e.idx FROM event e WHERE e.rank IN (
  SELECT i.rank FROM up JOIN inc i ON i.node = up.node AND i.rank >= up.lo AND i.rank < up.hi)
ORDER BY e.rank
"""
SQL_CONTENTS = """
WITH RECURSIVE down(node) AS (
  SELECT ?1
  UNION ALL
  SELECT a.child FROM down JOIN agg a ON a.parent = down.node AND a.stop = ?2
)
SELECT n.epc FROM down JOIN node n ON n.id = down.node WHERE down.node != ?1
"""
SQL_RECALL = """
WITH RECURSIVE
items(node) AS (SELECT id FROM node WHERE batch = ?1 AND key = ?2),
up(item, node, lo, hi) AS (
  SELECT node, node, 0, ?4 FROM items
  UNION ALL
  SELECT up.item, a.parent, max(up.lo, a.start), min(up.hi, a.stop)
  FROM up JOIN agg a ON a.child = up.node
  WHERE max(up.lo, a.start) < min(up.hi, a.stop)
),
hist(item, rank) AS (
  SELECT DISTINCT up.item, i.rank FROM up
  JOIN inc i ON i.node = up.node AND i.rank >= up.lo AND i.rank < up.hi
),
cust(item, rank, party) AS (
  SELECT h.item, h.rank, CASE e.kind WHEN 0 THEN e.by WHEN 3 THEN coalesce(e.src, e.by)
                                    WHEN 4 THEN coalesce(e.by, e.dst) ELSE NULL END
  FROM hist h JOIN event e ON e.rank = h.rank
  WHERE e.kind IN (0, 5) OR (e.kind = 3 AND coalesce(e.src, e.by) IS NOT NULL)
     OR (e.kind = 4 AND coalesce(e.by, e.dst) IS NOT NULL)
),
spells AS (
  SELECT item, party, rank AS s, lead(rank) OVER w AS e,
         row_number() OVER (PARTITION BY item ORDER BY rank DESC) AS rn
  FROM cust WINDOW w AS (PARTITION BY item ORDER BY rank)
)
SELECT n.epc, p.name FROM node n
JOIN spells now ON now.item = n.id AND now.rn = 1
LEFT JOIN party p ON p.id = now.party
WHERE n.id IN (SELECT item FROM spells WHERE party = ?3)
ORDER BY n.batch, n.id
"""


class SqlTrace:
    def __init__(self, sim):
        a = sim.arrays()
        db = sqlite3.connect(":memory:")
        db.executescript(SCHEMA)
        order = np.lexsort((np.arange(sim.n_events), a["ev_time"]))
        rank = np.empty(sim.n_events, dtype=np.int64)
        rank[order] = np.arange(sim.n_events)

        def nul(x):
            return None if x < 0 else x

        db.executemany("INSERT INTO party VALUES (?, ?)", enumerate(a["parties"].tolist()))
        db.executemany("INSERT INTO node VALUES (?, ?, ?, ?)",
                       zip(range(sim.n_nodes), a["epcs"].tolist(), a["node_key"].tolist(),
                           a["node_batch"].tolist()))
        kind, by, src, dst = (a[k].tolist() for k in ("ev_kind", "ev_by", "ev_src", "ev_dst"))
        ids, t = a["ev_ids"].tolist(), a["ev_time"].tolist()
        db.executemany("INSERT INTO event VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       ((int(rank[e]), e, ids[e], t[e], kind[e], nul(by[e]), nul(src[e]),
                         nul(dst[e])) for e in order.tolist()))
        rk = rank.tolist()
        own = set(zip(a["inc_node"].tolist(), (rk[e] for e in a["inc_event"].tolist())))
        par = a["agg_parent"].tolist()
        own.update((par[e], rk[e]) for e in range(sim.n_events) if par[e] >= 0)
        db.executemany("INSERT INTO inc VALUES (?, ?)", own)
        # containment stays (the same replay a user's application would maintain)
        stays = []
        parent, open_stay = {}, {}
        rows = defaultdict(list)
        for e, n in zip(a["inc_event"].tolist(), a["inc_node"].tolist()):
            rows[e].append(n)
        children = defaultdict(set)
        for e in order.tolist():
            k, p, r = kind[e], par[e], rk[e]
            if p < 0 or k not in (K.AGGREGATE, K.DISAGGREGATE):
                continue
            if k == K.AGGREGATE:
                for c in rows[e]:
                    if c == p or parent.get(c) == p or is_ancestor(parent, c, p):
                        continue
                    if c in parent:
                        stays[open_stay[c]][3] = r
                        children[parent[c]].discard(c)
                    parent[c] = p
                    children[p].add(c)
                    open_stay[c] = len(stays)
                    stays.append([c, p, r, INF])
            else:
                for c in rows[e] or list(children[p]):
                    if parent.get(c) == p:
                        stays[open_stay.pop(c)][3] = r + 1
                        children[p].discard(c)
                        del parent[c]
        db.executemany("INSERT INTO agg VALUES (?, ?, ?, ?)", stays)
        db.executescript(INDEXES)
        # tuned: with ANALYZE statistics or automatic indexes, SQLite 3.40 plans a Bloom
        # filter or a temporary index per query (a full scan of agg: 20-30x slower here)
        db.execute("PRAGMA automatic_index = OFF")
        self.db = db
        self.node_of = {e: i for i, e in enumerate(a["epcs"].tolist())}
        self.party_of = {p: i for i, p in enumerate(a["parties"].tolist())}

    def history(self, epc):
        return [r[0] for r in self.db.execute(SQL_HISTORY, (self.node_of[epc], INF))]

    def contents(self, epc):
        return [r[0] for r in self.db.execute(SQL_CONTENTS, (self.node_of[epc], INF))]

    def recall(self, batch_id, key_id, via):
        rows = self.db.execute(SQL_RECALL, (batch_id, key_id, self.party_of[via], INF))
        codes, custodians = [], []
        for epc, name in rows:
            codes.append(epc)
            custodians.append(name)
        return codes, custodians


@pytest.fixture(scope="module")
def nx_trace(base_sim):
    gc.collect()
    rss0 = rss_mb()
    t = time.perf_counter()
    m = NxTrace(base_sim)
    NOTES.append(f"networkx build at {N_BASE:,} items: {time.perf_counter() - t:.1f} s, "
                 f"RSS +{rss_mb() - rss0:.0f} MiB")
    return m


@pytest.fixture(scope="module")
def sql_trace(base_sim):
    t = time.perf_counter()
    m = SqlTrace(base_sim)
    NOTES.append(f"SQLite (in memory, indexed) build at {N_BASE:,} items: "
                 f"{time.perf_counter() - t:.1f} s")
    return m


def test_baselines_agree_with_antifake(base_sim, base_graph, nx_trace, sql_trace):
    for epc in sample_items(base_sim, 30, seed=5):
        want = base_graph.history(epc).tolist()
        assert nx_trace.history(epc) == want
        assert sql_trace.history(epc) == want
    for epc in full_containers(base_sim, base_graph, 3):
        want = sorted(base_graph.contents(epc).tolist())
        assert sorted(nx_trace.contents(epc)) == want
        assert sorted(sql_trace.contents(epc)) == want
    for b, k, v in recall_queries(base_sim, 3):
        r = base_graph.recall(batch_id=b, key_id=k, via=v)
        want = (r.codes.tolist(), r.custodians.tolist())
        assert nx_trace.recall(b, k, v) == want
        assert sql_trace.recall(b, k, v) == want


def test_history_networkx(benchmark, base_sim, nx_trace):
    record(benchmark, ("history", "networkx"),
           cycling(nx_trace.history, sample_items(base_sim)))


def test_history_sqlite(benchmark, base_sim, sql_trace):
    record(benchmark, ("history", "sqlite"), cycling(sql_trace.history, sample_items(base_sim)))


def test_contents_networkx(benchmark, base_sim, base_graph, nx_trace):
    record(benchmark, ("contents", "networkx"),
           cycling(nx_trace.contents, full_containers(base_sim, base_graph)))


def test_contents_sqlite(benchmark, base_sim, base_graph, sql_trace):
    record(benchmark, ("contents", "sqlite"),
           cycling(sql_trace.contents, full_containers(base_sim, base_graph)))


def test_recall_networkx(benchmark, base_sim, nx_trace):
    record(benchmark, ("recall", "networkx"),
           cycling(lambda q: nx_trace.recall(*q), recall_queries(base_sim)), rounds=5)


def test_recall_sqlite(benchmark, base_sim, sql_trace):
    record(benchmark, ("recall", "sqlite"),
           cycling(lambda q: sql_trace.recall(*q), recall_queries(base_sim)), rounds=3)


def test_history_at_scale_is_still_microseconds(big_graph, big_sim):
    """A loose sanity bound that holds even on a loaded CI machine."""
    items = sample_items(big_sim, 200)
    t = time.perf_counter()
    for e in items:
        big_graph.history(e)
    assert (time.perf_counter() - t) / len(items) < 2e-3


def test_maxrss_reported(big_graph):
    NOTES.append(f"process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}"
                 f" MiB")
    assert isinstance(big_graph, TraceGraph)
