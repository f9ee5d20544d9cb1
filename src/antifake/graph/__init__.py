"""The trace graph: an immutable snapshot of every stamp's events, containment and custody.

[`TraceGraph.from_arrays`][antifake.graph.TraceGraph.from_arrays] takes the column arrays the
registry produces from its store (one row per node, party, event and incidence) and builds, with
numpy and the ``nogil`` kernels of `antifake.graph._graph`, a handful of CSR arrays:

* events in (time, input index) order, their *rank*; every interval below is over ranks;
* per node, the ranks of its *own* events (incidence rows, or aggregation parent);
* per node, its *stays* inside containers: ``(parent, start, end)`` rank intervals;
* per node, its *custody segments*: ``(start rank, party)`` each time its custodian changes;
* the containment forest now, laid out in depth-first preorder so that a container's contents
  are one contiguous slice;
* the EPC strings' 64-bit hashes, sorted, for lookups without a dict.

Queries then touch only the node's own small slices: ``history`` is a walk up the stays with
interval intersection, ``contents`` a slice, ``recall`` one vectorised pass over a batch.

Semantics:

* Ties in time are broken by input order. Events are never reordered otherwise.
* Containment changes only by AGGREGATE (children move into the parent, leaving wherever they
  were; a row that would close a cycle is ignored) and DISAGGREGATE (the listed children, or
  all of them when the event has no incidence rows). A stay includes the event that unpacks it.
* ``history``: the node's own events and, for each container it was inside (at every level),
  that container's own events during the stay (intervals intersected across levels).
* Custody, from the node's own and inherited events in order: COMMISSION by X gives X; SHIP
  gives its source (the source keeps custody while goods are in transit); RECEIVE by Y gives
  Y; SELL gives nobody (a consumer); every other kind leaves custody as it was.

Memory at 1 M items / 3.8 M events / 5.2 M incidence rows (the synthetic chain of
`antifake.research.sim`): 182 MiB of arrays owned by the snapshot (``stats()["memory_bytes"]``;
about 190 bytes per event), 260 MiB at the peak of the build, plus the caller's EPC and
event-id strings, which the snapshot shares (read-only views) rather than copies. Built in
about 1.8 s on 2 cores; see ``benchmarks/test_bench_trace.py``.
"""

from __future__ import annotations

import time as _time
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from antifake.epcis.kinds import EventKind
from antifake.errors import RegistryError, UnknownStampError
from antifake.graph import _graph
from antifake.gs1.canonical import canonical_gs1_uri
from antifake.timeutil import to_microseconds

__all__ = ["TraceGraph", "Recall", "UnknownPartyError", "to_microseconds"]

_INT32_MAX = 2**31 - 1
_N_KINDS = max(EventKind) + 1


class UnknownPartyError(RegistryError, LookupError):
    """A party id that the snapshot does not know."""


class Recall(NamedTuple):
    """Items to recall and who holds each of them now (aligned arrays of ``str``; a custodian
    is ``None`` for an item sold to a consumer or of unknown custody)."""

    codes: np.ndarray
    custodians: np.ndarray


def _short(text: object, limit: int = 80) -> str:
    r = repr(text)
    return r if len(r) <= limit else r[: limit - 3] + "..."


def _strings(name: str, a: Any) -> np.ndarray:
    arr = np.asarray(a, dtype=object)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, not of shape {arr.shape}")
    return arr


def _ints(name: str, a: Any, dtype: Any, n: int | None = None,
          lo: int | None = None, hi: int | None = None) -> np.ndarray:
    """Validate an integer column: 1-D, length ``n``, values in ``[lo, hi)``, cast to dtype."""
    arr = np.asarray(a)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, not of shape {arr.shape}")
    if n is not None and len(arr) != n:
        raise ValueError(f"{name} has {len(arr)} rows, expected {n}")
    if arr.size == 0:
        return np.empty(0, dtype=dtype)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integers, not {arr.dtype}")
    info = np.iinfo(dtype)
    lo = info.min if lo is None else max(lo, info.min)
    hi = info.max + 1 if hi is None else min(hi, info.max + 1)
    mn, mx = int(arr.min()), int(arr.max())
    if mn < lo or mx >= hi:
        bad = mn if mn < lo else mx
        raise ValueError(f"{name} holds {bad}, outside [{lo}, {hi})")
    return np.ascontiguousarray(arr, dtype=dtype)


def _floats(name: str, a: Any, n: int) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim != 1 or len(arr) != n:
        raise ValueError(f"{name} must be one-dimensional with {n} rows")
    if arr.size and arr.dtype.kind not in "fiu":
        raise ValueError(f"{name} must hold numbers, not {arr.dtype}")
    return arr


def _times(name: str, a: Any, n: int) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim == 1 and arr.dtype.kind == "M":
        arr = arr.astype("datetime64[us]")
        if np.isnat(arr).any():
            raise ValueError(f"{name} holds NaT")
        arr = arr.view(np.int64)
    return _ints(name, arr, np.int64, n)


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


class TraceGraph:
    """Immutable snapshot of the trace: history, containment, custody and recall queries.

    Build it with [`from_arrays`][antifake.graph.TraceGraph.from_arrays] (or
    ``Registry.graph()``). Node arguments are EPC strings (or objects with an ``epc`` attribute such
    as ``Stamp``); party arguments and results are party id strings; times are timezone-aware
    ``datetime`` objects or ISO 8601 strings. Unknown EPCs raise
    [`antifake.errors.UnknownStampError`][antifake.errors.UnknownStampError].
    """

    __slots__ = (
        "_epcs", "_parties", "_ev_ids", "_party_index", "_party_or_none", "_t", "_order",
        "_own_ptr", "_own_rank", "_lk_ptr", "_lk_parent", "_lk_start", "_lk_end",
        "_seg_ptr", "_seg_start", "_seg_party", "_cust_now", "_parent_now",
        "_pre_nodes", "_pre_pos", "_pre_size", "_hashes", "_hash_node", "_node_key",
        "_node_batch", "_batch_nodes", "_batch_keys", "_k", "_stats", "_sealed",
    )

    _epcs: np.ndarray
    _parties: np.ndarray
    _ev_ids: np.ndarray
    _party_or_none: np.ndarray
    _t: np.ndarray
    _order: np.ndarray
    _own_ptr: np.ndarray
    _own_rank: np.ndarray
    _lk_ptr: np.ndarray
    _lk_parent: np.ndarray
    _lk_start: np.ndarray
    _lk_end: np.ndarray
    _seg_ptr: np.ndarray
    _seg_start: np.ndarray
    _seg_party: np.ndarray
    _cust_now: np.ndarray
    _parent_now: np.ndarray
    _pre_nodes: np.ndarray
    _pre_pos: np.ndarray
    _pre_size: np.ndarray
    _hashes: np.ndarray
    _hash_node: np.ndarray
    _node_key: np.ndarray
    _node_batch: np.ndarray
    _batch_nodes: np.ndarray
    _batch_keys: np.ndarray
    _party_index: dict[str, int]
    _k: Any  # _graph.Kernels
    _stats: dict[str, Any]
    _sealed: bool

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_sealed", False):
            raise AttributeError("TraceGraph is immutable")
        object.__setattr__(self, name, value)

    def __init__(self) -> None:
        raise TypeError("use TraceGraph.from_arrays(...) or Registry.graph()")

    # ------------------------------------------------------------------ build
    @classmethod
    def from_arrays(
        cls,
        epcs: Sequence[str] | np.ndarray,
        parties: Sequence[str] | np.ndarray,
        ev_ids: Sequence[str] | np.ndarray,
        ev_time: np.ndarray,
        ev_kind: np.ndarray,
        ev_by: np.ndarray,
        ev_src: np.ndarray,
        ev_dst: np.ndarray,
        ev_lat: np.ndarray,
        ev_lon: np.ndarray,
        inc_event: np.ndarray,
        inc_node: np.ndarray,
        agg_parent: np.ndarray,
        node_key: np.ndarray,
        node_batch: np.ndarray,
    ) -> TraceGraph:
        """Build a snapshot from the registry's columns (see the module docstring).

        Raises ``ValueError`` on arrays of mismatched lengths, non-integer id columns, ids out
        of range, unknown event kinds, duplicate EPCs or duplicate party ids. ``ev_lat`` and
        ``ev_lon`` are validated but not kept: no graph query uses them.
        """
        t_start = _time.perf_counter()
        steps: dict[str, float] = {}

        def tick(name: str, _last: list[float] = [t_start]) -> None:  # noqa: B006
            now = _time.perf_counter()
            steps[name] = now - _last[0]
            _last[0] = now

        epcs_a = _strings("epcs", epcs)
        parties_a = _strings("parties", parties)
        ev_ids_a = _strings("ev_ids", ev_ids)
        n_nodes, n_parties, n_events = len(epcs_a), len(parties_a), len(ev_ids_a)
        if n_nodes >= _INT32_MAX or n_events >= _INT32_MAX or n_parties >= _INT32_MAX:
            raise ValueError("at most 2**31 - 2 nodes, events and parties")
        t = _times("ev_time", ev_time, n_events)
        kind = _ints("ev_kind", ev_kind, np.uint8, n_events, 0, _N_KINDS)
        by = _ints("ev_by", ev_by, np.int32, n_events, -1, n_parties)
        src = _ints("ev_src", ev_src, np.int32, n_events, -1, n_parties)
        dst = _ints("ev_dst", ev_dst, np.int32, n_events, -1, n_parties)
        _floats("ev_lat", ev_lat, n_events)
        _floats("ev_lon", ev_lon, n_events)
        inc_e = _ints("inc_event", inc_event, np.int64, None, 0, n_events)
        inc_n = _ints("inc_node", inc_node, np.int64, None, 0, n_nodes)
        if len(inc_e) != len(inc_n):
            raise ValueError(f"inc_event has {len(inc_e)} rows but inc_node {len(inc_n)}")
        par = _ints("agg_parent", agg_parent, np.int64, n_events, -1, n_nodes)
        key = _ints("node_key", node_key, np.int32, n_nodes)
        batch = _ints("node_batch", node_batch, np.int64, n_nodes)

        self = object.__new__(cls)
        # read-only views: the snapshot shares the caller's strings (do not modify them)
        self._epcs = _frozen(epcs_a.view())
        self._parties = _frozen(parties_a.copy())
        self._ev_ids = _frozen(ev_ids_a.view())
        party_list = self._parties.tolist()
        if not all(type(p) is str for p in party_list):
            raise ValueError("parties must hold str party ids")
        self._party_index = {p: i for i, p in enumerate(party_list)}
        if len(self._party_index) != n_parties:
            raise ValueError("parties holds duplicate ids")
        party_or_none = np.empty(n_parties + 1, dtype=object)  # index -1: None
        party_or_none[:n_parties] = self._parties
        self._party_or_none = _frozen(party_or_none)

        tick("validate")
        # -- event order: (time, input index); custody effect of each event
        order = _graph.radix_argsort(t)
        tick("order")
        t_sorted, kind_r, par_r, cval_r, rank_of = _graph.prepare_events(
            order, t, kind, by, src, dst, par)
        self._t = _frozen(t_sorted)
        self._order = _frozen(order)
        del order, t_sorted
        tick("events")
        # -- incidence by rank (input order kept inside an event)
        ev_ptr, ev_nodes = _graph.incidence_by_rank(rank_of, inc_e, inc_n)
        del rank_of
        tick("incidence_csr")
        # -- own events per node (ranks ascending)
        own_ptr, own_rank, lk_cap = _graph.own_events(kind_r, ev_ptr, ev_nodes, par_r, n_nodes)
        self._own_ptr = _frozen(own_ptr)
        self._own_rank = _frozen(own_rank)
        n_own = len(own_rank)
        tick("own_events")
        # -- replay: stays, custody segments, final state
        parent_now, cust_now, lk, seg = _graph.replay(
            kind_r, par_r, cval_r, ev_ptr, ev_nodes, n_nodes, lk_cap)
        del kind_r, par_r, cval_r, ev_ptr, ev_nodes
        n_lk = len(lk[0])
        seg_node, seg_rank, seg_party = seg
        del seg
        tick("replay")
        # -- per-node CSRs by stable grouping (rank order kept inside a node)
        ptr, lk_parent, lk_start, lk_end = _graph.group_by(lk[0], n_nodes, lk[1], lk[2], lk[3])
        self._lk_ptr = _frozen(ptr)
        self._lk_parent = _frozen(lk_parent)
        self._lk_start = _frozen(lk_start)
        self._lk_end = _frozen(lk_end)
        del lk, lk_parent, lk_start, lk_end
        ptr, seg_start, seg_party = _graph.group_by(seg_node, n_nodes, seg_rank, seg_party)
        self._seg_ptr = _frozen(ptr)
        self._seg_start = _frozen(seg_start)
        self._seg_party = _frozen(seg_party)
        del seg_node, seg_rank, seg_party, seg_start
        self._cust_now = _frozen(cust_now)
        self._parent_now = _frozen(parent_now)

        tick("node_csr")
        # -- the containment forest now, in preorder
        has_parent = np.flatnonzero(parent_now >= 0).astype(np.int32)
        ch_ptr, ch_node = _graph.group_by(parent_now[has_parent], n_nodes, has_parent)
        del has_parent
        nodes, pos, size = _graph.preorder_forest(parent_now, ch_ptr, ch_node)
        del ch_ptr, ch_node
        self._pre_nodes = _frozen(nodes)
        self._pre_pos = _frozen(pos)
        self._pre_size = _frozen(size)

        tick("preorder")
        # -- EPC lookup: sorted 64-bit hashes (Python's str hash; this process only)
        try:
            h = _graph.hash_strings(self._epcs)
        except TypeError as exc:
            raise ValueError(str(exc)) from None
        hord = _graph.radix_argsort(h)
        hs = h[hord]
        del h
        # equal hashes: equal strings (duplicates) or, very rarely, a true collision, which
        # the lookup resolves by comparing strings
        for hv in sorted(set(hs[1:][hs[1:] == hs[:-1]].tolist())):
            lo, hi = np.searchsorted(hs, hv, side="left"), np.searchsorted(hs, hv, side="right")
            vals = self._epcs[hord[lo:hi]].tolist()
            if len(set(vals)) != len(vals):
                raise ValueError(f"epcs holds {_short(vals[0])} more than once")
        self._hashes = _frozen(hs)
        self._hash_node = _frozen(hord)
        del hord

        tick("epc_index")
        # -- items by batch (stable: node order inside a batch)
        self._node_key = _frozen(key.copy())
        self._node_batch = _frozen(batch.copy())
        items = np.flatnonzero(batch >= 0).astype(np.int32)
        item_batch = batch[items]
        bo = _graph.radix_argsort(item_batch)
        self._batch_nodes = _frozen(items[bo])
        self._batch_keys = _frozen(item_batch[bo])
        del items, item_batch, bo

        tick("batch_index")
        self._k = _graph.Kernels(
            self._own_ptr, self._own_rank, self._lk_ptr, self._lk_parent, self._lk_start,
            self._lk_end, self._seg_ptr, self._seg_start, self._seg_party, self._order,
            self._parent_now, self._hashes, self._hash_node, self._epcs, self._t,
        )
        shared = ("_epcs", "_ev_ids")  # the caller's strings: views, not owned
        arrays = [getattr(self, s) for s in cls.__slots__
                  if s not in shared and isinstance(getattr(self, s, None), np.ndarray)]
        self._stats = {
            "nodes": n_nodes,
            "items": int(len(self._batch_nodes)),
            "events": n_events,
            "incidences": int(len(inc_n)),
            "parties": n_parties,
            "own_events": int(n_own),
            "stays": int(n_lk),
            "custody_segments": int(len(self._seg_start)),
            "contained_now": int(np.count_nonzero(parent_now >= 0)),
            "memory_bytes": int(sum(a.nbytes for a in arrays)),
            "build_seconds": _time.perf_counter() - t_start,
            "build_steps": steps,
        }
        self._sealed = True
        return self

    # ------------------------------------------------------------------ lookups
    @property
    def epcs(self) -> np.ndarray:
        """Node names (read-only object array); node id = index."""
        return self._epcs

    @property
    def parties(self) -> np.ndarray:
        """Party ids (read-only object array); party id = index."""
        return self._parties

    @property
    def event_ids(self) -> np.ndarray:
        """Event ids (read-only object array) in input order."""
        return self._ev_ids

    @property
    def n_nodes(self) -> int:
        return len(self._epcs)

    @property
    def n_events(self) -> int:
        return len(self._ev_ids)

    def __len__(self) -> int:
        return len(self._epcs)

    def __contains__(self, code: object) -> bool:
        try:
            self.node_id(code)
        except UnknownStampError:
            return False
        return True

    def __repr__(self) -> str:
        s = self._stats
        return (f"<TraceGraph {s['nodes']} nodes ({s['items']} items), {s['events']} events, "
                f"{s['parties']} parties>")

    def node_id(self, code: object) -> int:
        """Index of the node named ``code`` (an EPC string or an object with ``.epc``)."""
        epc = code if type(code) is str else getattr(code, "epc", code)
        j = self._k.node_of(epc)
        if j >= 0:
            return j
        if isinstance(epc, str):  # a GS1 EPC is stored under its canonical Digital Link
            c = canonical_gs1_uri(epc)
            if c is not None and c != epc and (j := self._k.node_of(c)) >= 0:
                return j
        if not isinstance(epc, str):
            raise UnknownStampError(f"not an EPC string: {type(epc).__name__}")
        raise UnknownStampError(f"unknown EPC {_short(epc)}")

    def party_id(self, party: str) -> int:
        """Index of a party id; [`UnknownPartyError`][antifake.graph.UnknownPartyError] if the
        snapshot has none."""
        try:
            return self._party_index[party]
        except (KeyError, TypeError):
            raise UnknownPartyError(f"unknown party {_short(party)}") from None

    def _rank_at(self, at: Any) -> int:
        """Rank of the last event at or before ``at`` (-1 if none)."""
        t = to_microseconds(at)
        if not -(2**63) <= t < 2**63:
            return -1 if t < 0 else len(self._t) - 1
        return self._k.rank_at(t)

    # ------------------------------------------------------------------ queries
    def history(self, code: object) -> np.ndarray:
        """Input indices (int64) of the node's own events and of the events of each container
        it was inside, at every level, during its stays there; sorted by (time, index)."""
        return self._k.history(self.node_id(code))

    def history_ids(self, code: object) -> list[str]:
        """Event ids of [`history`][antifake.graph.TraceGraph.history]."""
        return self._ev_ids[self.history(code)].tolist()

    def contents(self, code: object) -> np.ndarray:
        """EPCs inside the node now, all levels, in depth-first order (children by id)."""
        n = self.node_id(code)
        p = int(self._pre_pos[n])
        return self._epcs[self._pre_nodes[p + 1: p + int(self._pre_size[n])]]

    def containers(self, code: object) -> list[str]:
        """EPCs of the node's parent, grandparent, ... now (empty when it is loose)."""
        return self._epcs[self._k.containers(self.node_id(code))].tolist()

    def custodian(self, code: object, at: Any = None) -> str | None:
        """Party holding the node at ``at`` (``None``: now); ``None`` when sold to a consumer,
        before its first custody event, or unknown."""
        n = self.node_id(code)
        if at is None:
            p = int(self._cust_now[n])
        else:
            p = self._k.custodian_at(n, self._rank_at(at))
        return None if p < 0 else self._parties[p]

    def custody_chain(self, code: object) -> list[str]:
        """Parties that held the node, in order (consumers and unknown spells dropped,
        consecutive duplicates merged)."""
        n = self.node_id(code)
        s = self._seg_party[self._seg_ptr[n]: self._seg_ptr[n + 1]]
        s = s[s >= 0]
        if len(s) > 1:
            s = s[np.concatenate(([True], s[1:] != s[:-1]))]
        return self._parties[s].tolist()

    def in_chain(self, code: object, party: str) -> bool:
        """Whether ``party`` ever held the node (``False`` for a party the graph lacks)."""
        n = self.node_id(code)
        p = self._party_index.get(party) if isinstance(party, str) else None
        if p is None:
            return False
        s = self._seg_party[self._seg_ptr[n]: self._seg_ptr[n + 1]]
        return bool(np.any(s == p))

    def recall(self, batch_id: int | None = None, via: str | None = None,
               since: Any = None, until: Any = None, key_id: int | None = None) -> Recall:
        """Items (nodes with a batch id) of batch ``batch_id`` and issuer key ``key_id`` (each
        filter optional); with ``via``, only those that party ``via`` held at some point in
        ``[since, until]`` (a custody spell, closed at both ends in time, meeting the window;
        ``since``/``until`` only narrow ``via``). Sold items are included. Returns aligned
        ``codes`` and current ``custodians``, ordered by (batch, node index)."""
        cands = self._batch_nodes
        if batch_id is not None:
            b = _as_int("batch_id", batch_id)
            if -(2**63) <= b < 2**63:
                lo = int(np.searchsorted(self._batch_keys, b, side="left"))
                hi = int(np.searchsorted(self._batch_keys, b, side="right"))
                cands = cands[lo:hi]
            else:
                cands = cands[:0]
        if key_id is not None:
            k = _as_int("key_id", key_id)
            if -(2**31) <= k < 2**31:
                cands = cands[self._node_key[cands] == k]
            else:
                cands = cands[:0]
        if via is not None:
            pid = self.party_id(via)
            r_from, r_to = 0, len(self._t)
            if since is not None:
                r_from = int(np.searchsorted(self._t, to_microseconds(since), side="left"))
            if until is not None:
                r_to = int(np.searchsorted(self._t, to_microseconds(until), side="right")) - 1
            if since is not None and until is not None and \
                    to_microseconds(since) > to_microseconds(until):
                raise ValueError("recall: since is after until")
            cands = cands[self._k.held_by(cands, pid, r_from, r_to)]
        return Recall(self._epcs[cands], self._party_or_none[self._cust_now[cands]])

    def detection_arrays(self) -> dict[str, np.ndarray]:
        """Read-only CSR arrays for `antifake.detect`."""
        return {"order": self._order, "t": self._t, "own_ptr": self._own_ptr,
                "own_rank": self._own_rank, "seg_ptr": self._seg_ptr,
                "seg_start": self._seg_start, "seg_party": self._seg_party,
                "lk_ptr": self._lk_ptr, "lk_parent": self._lk_parent, "lk_start": self._lk_start,
                "lk_end": self._lk_end, "cust_now": self._cust_now}

    def stats(self) -> dict[str, Any]:
        """Sizes of the snapshot: nodes, items, events, incidences, parties, own_events,
        stays, custody_segments, contained_now, memory_bytes (arrays it owns, not counting
        the caller's strings), build_seconds."""
        return dict(self._stats)


def _as_int(name: str, x: Any) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, not {type(x).__name__}")
    return int(x)
