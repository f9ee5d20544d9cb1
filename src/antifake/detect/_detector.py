"""Detection runs: [`Detector`][antifake.detect.Detector] (full and incremental) and
[`detect`][antifake.detect.detect]; diversion by delivery group.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

import antifake.detect._detect as _detect
from antifake.detect._alerts import (
    Alert,
    _changed,
    _gc_paused,
    _new_alert,
    _reason,
    _segments,
    _sorted_evidence,
)
from antifake.detect._config import _A_DIVERSION, KINDS, DetectConfig, DetectError
from antifake.detect._data import Source, TraceData, _append_events, _as_data, _is_event_list
from antifake.detect._regions import regions_at
from antifake.timeutil import to_microseconds


@dataclass
class _State:
    """What a detector keeps between runs (all aligned to one snapshot's ids)."""

    data: TraceData
    key: np.ndarray  # per node: delivery group (rank of an event in this snapshot), -1 none
    observed: np.ndarray  # per node: has a located scan or claim
    recs: np.ndarray  # per-node records (REC_DTYPE); ev_off/ev_n index `ev`
    ev: np.ndarray  # evidence: input event indices
    objs: np.ndarray | None = None  # the Alert of each record, once built (object array)


class Detector:
    """Detection with memory: [`run`][antifake.detect.Detector.run] examines a whole snapshot;
    [`update`][antifake.detect.Detector.update] a newer
    snapshot of the same registry (its first events the same), re-examining only the codes
    its new events touch (and what they contain), with the result a full run would give.

    ``detector.alerts`` is the current list (ranked); ``update`` returns the alerts that are
    new or changed since the previous run."""

    def __init__(self, config: DetectConfig | None = None) -> None:
        if config is None:
            config = DetectConfig()
        if not isinstance(config, DetectConfig):
            raise DetectError(f"config must be a DetectConfig, not {type(config).__name__}")
        self.config = config
        self._state: _State | None = None
        self.alerts: list[Alert] = []
        self.stats: dict[str, Any] = {}

    # -- runs ------------------------------------------------------------------------------
    def run(self, source: Source) -> list[Alert]:
        """Examine everything in ``source`` (Registry, Simulation or TraceData)."""
        import time

        t0 = time.perf_counter()
        data = _as_data(source)
        k = data.kernel(self.config)
        t1 = time.perf_counter()
        cand, observed, key = k.screen(self.config.threads)
        t2 = time.perf_counter()
        nodes = np.flatnonzero(cand).astype(np.int32)
        recs, ranks, _, _ = k.analyse(nodes)
        t3 = time.perf_counter()
        recs, ev = _sorted_evidence(recs, ranks, data._garrays["order"])
        self._state = _State(data, key, observed, recs, ev)
        old = self.alerts
        self.alerts = self._alerts()
        t4 = time.perf_counter()
        self.stats = {"mode": "full", "nodes": data.n_nodes, "events": data.n_events,
                      "candidates": int(len(nodes)), "records": int(len(recs)),
                      "alerts": len(self.alerts), "seconds": t4 - t0,
                      "steps": {"prepare": t1 - t0, "screen": t2 - t1, "analyse": t3 - t2,
                                "alerts": t4 - t3}}
        del old
        return self.alerts

    def update(self, source: Source) -> list[Alert]:
        """Examine what is new in ``source`` (a newer snapshot: Registry, Simulation,
        TraceData; or a sequence of [`Event`][antifake.epcis.events.Event] to append to the
        last snapshot). Returns the alerts that are new or changed; `alerts` holds all
        of them. The first call (or a snapshot whose earlier events or parties differ) runs
        in full."""
        import time

        t0 = time.perf_counter()
        st = self._state
        if st is not None and _is_event_list(source):
            data = _append_events(st.data, source)
        elif _is_event_list(source):
            raise DetectError("update(events) needs an earlier run to append to")
        else:
            data = _as_data(source)
        before = self.alerts
        if st is None or not _extends(st.data, data):
            return _changed(before, self.run(data))
        prev = st.data
        n_prev_ev, n_prev_nodes = prev.n_events, prev.n_nodes
        k = data.kernel(self.config)
        nodes = _affected(data, n_prev_ev, n_prev_nodes)
        if self.config.use_phones:
            nodes = np.union1d(nodes, _moved_phones(prev, data)).astype(np.int32)
        recs, ranks, _, obs_new = k.analyse(nodes)
        recs, ev = _sorted_evidence(recs, ranks, data._garrays["order"])
        # patch the per-node arrays and records (delivery groups are ranks of this
        # snapshot: read again from its custody segments, no event is touched)
        key = k.keys()
        observed = np.zeros(data.n_nodes, dtype=bool)
        observed[:n_prev_nodes] = st.observed
        observed[nodes] = obs_new
        hit = np.zeros(data.n_nodes, dtype=bool)
        hit[nodes] = True
        keep = ~hit[st.recs["node"]]
        old_objs = st.objs[keep] if st.objs is not None else np.full(int(keep.sum()), None)
        old_recs = st.recs[keep]
        old_pos = _segments(old_recs["ev_off"], old_recs["ev_n"])
        old_ev = st.ev[old_pos] if len(old_pos) else np.zeros(0, np.int64)
        old_recs = old_recs.copy()
        old_recs["ev_off"] = np.cumsum(old_recs["ev_n"]) - old_recs["ev_n"]
        recs = recs.copy()
        recs["ev_off"] += len(old_ev)
        all_recs = np.concatenate([old_recs, recs])
        o = np.lexsort((all_recs["kind"], all_recs["node"]))
        all_ev = np.concatenate([old_ev, ev])
        all_recs = all_recs[o]
        objs = np.concatenate([old_objs, np.full(len(recs), None, dtype=object)])[o]
        self._state = _State(data, key, observed, all_recs, all_ev, objs)
        self.alerts = self._alerts()
        self.stats = {"mode": "incremental", "nodes": data.n_nodes, "events": data.n_events,
                      "new_events": data.n_events - n_prev_ev, "examined": int(len(nodes)),
                      "records": int(len(all_recs)), "alerts": len(self.alerts),
                      "seconds": time.perf_counter() - t0}
        return _changed(before, self.alerts)

    # -- alerts ----------------------------------------------------------------------------
    def _alerts(self) -> list[Alert]:
        # tens of thousands of small tuples: the cyclic collector would walk the snapshot's
        # multi-million-element object arrays (EPCs, event ids) again and again meanwhile
        with _gc_paused():
            return self._build_alerts()

    def _build_alerts(self) -> list[Alert]:
        st = self._state
        assert st is not None
        cfg = self.config
        data = st.data
        recs, ev = st.recs, st.ev
        epcs, ev_ids = data.epcs, data.ev_ids
        if st.objs is None:
            st.objs = np.full(len(recs), None, dtype=object)
        # the Alert of each record not built yet (an update builds only its nodes' ones)
        todo = np.flatnonzero(st.objs == None)  # noqa: E711 (element-wise)
        if len(todo):
            r = recs[todo]
            kinds = r["kind"].tolist()
            auxs = r["aux"].tolist()
            why: dict[tuple[int, int], str] = {}
            for kd, ax in set(zip(kinds, auxs, strict=True)):
                why[(kd, ax)] = _reason(kd, ax, data)
            lo = r["ev_off"]
            pos = _segments(lo, r["ev_n"])
            names = tuple(ev_ids[ev[pos]].tolist()) if len(pos) else ()
            ends = np.cumsum(r["ev_n"].astype(np.int64))
            starts = ends - r["ev_n"]
            built = np.empty(len(todo), dtype=object)
            built[:] = _detect.make_alerts(
                Alert, [KINDS[kd] for kd in kinds], epcs[r["node"]].tolist(),
                np.round(r["score"].astype(np.float64), 4).tolist(), names,
                np.ascontiguousarray(starts, dtype=np.int64),
                np.ascontiguousarray(ends, dtype=np.int64), r["first"].tolist(),
                r["last"].tolist(), [why[ka] for ka in zip(kinds, auxs, strict=True)])
            st.objs[todo] = built
        groups = _diversion_groups(st, cfg) if "diversion" in cfg.kinds else []
        grouped = np.zeros(data.n_nodes, dtype=bool)
        for g in groups:
            grouped[g["nodes"]] = True
        drop = (recs["kind"] == _A_DIVERSION) & grouped[recs["node"]]
        sel = np.flatnonzero(~drop & (recs["score"] >= np.float32(cfg.min_score)))
        groups = [g for g in groups if g["score"] >= cfg.min_score]
        r = recs[sel]
        # rank: score (4 decimals) down, first seen, kind, node (of the first code)
        key = np.empty((len(sel) + len(groups), 4), dtype=np.float64)
        key[: len(sel), 0] = -np.round(r["score"].astype(np.float64), 4)
        key[: len(sel), 1] = r["first"]
        key[: len(sel), 2] = r["kind"]
        key[: len(sel), 3] = r["node"]
        for i, g in enumerate(groups):
            key[len(sel) + i] = (-g["score"], g["first"], _A_DIVERSION, int(g["nodes"][0]))
        order = np.lexsort((key[:, 3], key[:, 2], key[:, 1], key[:, 0]))
        objs = np.empty(len(key), dtype=object)
        objs[: len(sel)] = st.objs[sel]
        new, cls = _new_alert, Alert
        for i, g in enumerate(groups):
            objs[len(sel) + i] = new(cls, (
                "diversion", tuple(epcs[g["nodes"]].tolist()), g["score"],
                tuple(ev_ids[g["evidence"]].tolist()), g["first"], g["last"], g["reason"]))
        return objs[order].tolist()


def _diversion_groups(st: _State, cfg: DetectConfig) -> list[dict[str, Any]]:
    """Delivery groups (items one holder received in one event) seen outside their regions:
    at least ``diversion_min_items`` items and ``diversion_min_fraction`` of those observed.
    Items no such group names are then grouped by the event that packed them (a case): a
    delivery whose receipt was never recorded is found by its case, when at least
    ``diversion_pack_fraction`` of the case's observed items are seen outside."""
    recs = st.recs
    div = recs[recs["kind"] == _A_DIVERSION]
    if not len(div):
        return []
    groups = _groups_by(st, cfg, div, st.key, cfg.diversion_min_fraction, "delivered")
    if cfg.diversion_pack_fraction <= 1.0:
        pack = st.data.pack_keys()
        done = np.zeros(st.data.n_nodes, dtype=bool)
        for grp in groups:
            done[grp["nodes"]] = True
        rest = div[~done[div["node"]]]
        if len(rest):
            rest = rest[_outside_sales(st, rest, pack)]
        if len(rest):
            groups += _groups_by(st, cfg, rest, pack, cfg.diversion_pack_fraction, "packed")
    return groups


def _outside_sales(st: _State, div: np.ndarray, pack: np.ndarray) -> np.ndarray:
    """Which diversion records ``div`` have an observation outside every region where an
    item packed with theirs was sold on record: a case whose delivery went unrecorded is
    sold and scanned in one region; a diverted one is scanned away from where it was sold
    (if it was sold on record at all)."""
    data = st.data
    keys = pack[div["node"]]
    # (case, region) of every recorded sale of an item of these cases
    s_node, s_reg = data.sales()
    s_key = pack[s_node]
    table = np.zeros(data.n_events + 1, dtype=bool)  # by rank; the last slot: no case
    table[keys[keys >= 0]] = True
    want = table[np.where(s_key >= 0, s_key, data.n_events)] & (s_reg >= 0)
    n_reg = max(1, len(data.region_names) + 1)
    sale_pairs = np.unique(s_key[want] * n_reg + s_reg[want])
    # each record's observations (its evidence events with a location)
    owner = np.repeat(np.arange(len(div)), div["ev_n"])
    ev = st.ev[_segments(div["ev_off"], div["ev_n"])]
    reg = regions_at(data.regions, data.ev_lat[ev], data.ev_lon[ev])
    located = np.isfinite(data.ev_lat[ev]) & np.isfinite(data.ev_lon[ev])
    inside = (reg >= 0) & (keys[owner] >= 0) & np.isin(keys[owner] * n_reg + reg, sale_pairs)
    away = np.zeros(len(div), dtype=bool)
    np.logical_or.at(away, owner[located & ~inside], True)
    return away | (div["ev_n"] == 0)


def _groups_by(st: _State, cfg: DetectConfig, div: np.ndarray, key: np.ndarray,
               min_fraction: float, how: str) -> list[dict[str, Any]]:
    """The groups of ``key`` (a rank per node, -1 none) with enough of the diversion
    records ``div`` among their items."""
    data = st.data
    out_nodes = div["node"]
    gk = key[out_nodes]
    valid = gk >= 0
    # groups with enough items outside, before looking at their members
    ok_keys, counts = np.unique(gk[valid], return_counts=True)
    cand_keys = ok_keys[counts >= cfg.diversion_min_items]
    if not len(cand_keys):
        return []
    table = np.zeros(data.n_events + 1, dtype=bool)  # by rank; the last slot: no group
    table[cand_keys] = True
    member = table[np.where(key >= 0, key, data.n_events)]
    member &= data.node_item.astype(bool) | st.observed
    members = np.flatnonzero(member)
    mk = key[members]
    o = np.lexsort((members, mk))
    members, mk = members[o], mk[o]
    uniq, start, size = np.unique(mk, return_index=True, return_counts=True)
    is_out = np.zeros(data.n_nodes, dtype=bool)
    is_out[out_nodes] = True
    n_out = np.add.reduceat(is_out[members].astype(np.int64), start)
    n_obs = np.add.reduceat(st.observed[members].astype(np.int64), start)
    good = (n_out >= cfg.diversion_min_items) & \
        (n_out >= min_fraction * np.maximum(n_obs, n_out))
    if not good.any():
        return []
    div_pos = np.full(data.n_nodes, -1, dtype=np.int64)
    div_pos[out_nodes] = np.arange(len(out_nodes))
    groups = []
    for gi in np.flatnonzero(good).tolist():
        g_nodes = members[start[gi]: start[gi] + size[gi]]
        outs = div_pos[g_nodes[is_out[g_nodes]]]
        firsts = np.sort(div["first"][outs])
        first = int(firsts[cfg.diversion_min_items - 1])
        last = int(div["last"][outs].max())
        ev_all = np.unique(st.ev[_segments(div["ev_off"][outs], div["ev_n"][outs])])
        ev_all = ev_all[np.lexsort((ev_all, data.ev_time[ev_all]))]  # (time, input) order
        kept = ev_all[: cfg.max_evidence - 1]
        delivery = int(data._garrays["order"][int(uniq[gi])])
        evidence = np.concatenate([[delivery], kept]).astype(np.int64)
        n_o, n_b = int(n_out[gi]), int(n_obs[gi])
        score = round(min(0.95, 0.6 + 0.05 * (n_o - cfg.diversion_min_items)), 4)
        by = int(data.ev_by[delivery])
        holder = data.parties[by] if by >= 0 else "its holder"
        if how == "delivered":
            reason = (f"{n_o} of {len(g_nodes)} items delivered together to {holder} seen "
                      f"outside its regions ({n_b} observed)")
        else:
            reason = (f"{n_o} of {len(g_nodes)} items packed together by {holder} seen "
                      f"outside the regions their recorded chain reaches ({n_b} observed; "
                      f"their delivery not recorded)")
        if how == "delivered" and by >= 0 and data.party_business[by] == 2 and \
                n_o < 0.6 * max(n_b, n_o):
            # a wholesaler's delivery, partly seen outside: its goods went on to several
            # shops by steps not recorded, so only the items seen outside are named
            g_nodes = g_nodes[is_out[g_nodes]]
            reason += "; a wholesaler's delivery: the items seen outside"
        groups.append({
            "nodes": g_nodes, "score": score, "first": first, "last": last,
            "evidence": evidence, "reason": reason,
        })
    return groups


def _extends(old: TraceData, new: TraceData) -> bool:
    """Whether ``new`` is ``old`` plus appended events, nodes and metadata-free parties."""
    if new is old:
        return True
    n_ev, n_nodes = old.n_events, old.n_nodes
    if new.n_events < n_ev or new.n_nodes < n_nodes:
        return False
    if n_ev and (new.ev_ids[0] != old.ev_ids[0] or new.ev_ids[n_ev - 1] != old.ev_ids[n_ev - 1]):
        return False
    if n_nodes and (new.epcs[0] != old.epcs[0] or new.epcs[n_nodes - 1] != old.epcs[n_nodes - 1]):
        return False
    if abs(new.region_radius_km - old.region_radius_km) > 0:
        return False
    if not np.array_equal(new.ev_time[:n_ev], old.ev_time):  # e.g. clocks corrected anew
        return False
    return old.same_parties(new)


def _affected(data: TraceData, n_prev_ev: int, n_prev_nodes: int) -> np.ndarray:
    """Nodes whose results may change: those new events name (rows or aggregation parent),
    new nodes, and everything ever packed inside them (their custody and containers)."""
    n = data.n_nodes
    hit = np.zeros(n, dtype=bool)
    hit[n_prev_nodes:] = True
    new_rows = data.inc_event >= n_prev_ev
    hit[data.inc_node[new_rows]] = True
    par = data.agg_parent[n_prev_ev:]
    hit[par[par >= 0]] = True
    g = data._garrays
    lk_ptr, lk_parent = g["lk_ptr"], g["lk_parent"]
    if len(lk_parent):
        child = np.repeat(np.arange(n, dtype=np.int64), np.diff(lk_ptr))
        frontier = hit.copy()
        for _ in range(64):
            add = child[frontier[lk_parent]]
            add = add[~hit[add]]
            if not len(add):
                break
            hit[add] = True
            frontier[:] = False
            frontier[add] = True
    return np.flatnonzero(hit).astype(np.int32)


def _moved_phones(old: TraceData, new: TraceData) -> np.ndarray:
    """Nodes scanned or claimed by a phone whose home region differs between ``old`` and
    ``new`` (its new scans moved it): the phone rules read them again."""
    before = old.phone_regions()
    after = new.phone_regions()[: len(before)]
    moved = np.zeros(len(new.parties), dtype=bool)
    moved[: len(before)] = before != after
    if not moved.any():
        return np.zeros(0, np.int32)
    by = new.ev_by[new.inc_event]
    rows = by >= 0
    rows[rows] = moved[by[rows]]
    return np.unique(new.inc_node[rows]).astype(np.int32)


def detect(source: Source, *, since: Any = None, config: DetectConfig | None = None
           ) -> list[Alert]:
    """Every alert in ``source`` (a Registry, a Simulation or a TraceData), ranked by score.

    ``since`` (a time: aware ``datetime``, ISO 8601 string or microseconds) keeps the
    alerts with evidence at or after it (``last_seen >= since``)."""
    det = Detector(config)
    alerts = det.run(source)
    if since is not None:
        try:
            t = to_microseconds(since)
        except (TypeError, ValueError) as exc:
            raise DetectError(f"since: {exc}") from None
        alerts = [a for a in alerts if a.last_us >= t]
    return alerts
