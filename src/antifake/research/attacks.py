"""Attacks and noise on top of a simulated supply chain, with ground truth.

[`inject`][antifake.research.attacks.inject] takes an
[`Simulation`][antifake.research.sim.Simulation] (a
genuine chain) and returns an [`AttackedSimulation`][antifake.research.attacks.AttackedSimulation]:
the same
columns with attack events added (and some genuine events changed or lost), per-event details (claim
results, decommissioning reasons), the ground truth of every attacked code (which attack, from when)
and of the noise laid on genuine codes. [`evaluate`][antifake.research.attacks.evaluate] scores a
list of
alerts against that truth: precision, recall and time-to-detection per attack and per rule.

Attacks ([`AttackMix`][antifake.research.attacks.AttackMix]; counts scale with the number of items):

``clone``
    a genuine stamp (sold, or on a shelf) photocopied onto fakes sold in another region: each
    fake is bought by someone else, who scans it (and sometimes tries to claim it, getting
    "already claimed" when the genuine buyer claimed first, else a wrong PIN).
``stolen``
    a pallet stolen from a distributor (or in transit), decommissioned as stolen by its holder;
    some of its items resurface later: listed by a fence, scanned by buyers anywhere.
``diversion``
    grey market: cases received by a retailer leave for another region, where consumers buy and
    scan them (the retailer records the sales at home, or records nothing); and a pallet held
    by a distributor sold off to another region.
``counterfeit_listing``
    marketplace shops listing codes they never received (copied from photos), some codes by
    several shops.
``unauthorized_sale``
    shops recording retail sales of copied codes they never received.
``brute_force``
    an attacker trying PINs on codes until the claim locks (a few give up after 3-4).
``repack``
    a carrier opens cases of a pallet in transit, takes genuine items out and packs fakes
    (never commissioned) in; the receiver sometimes records the receipt before the shipment.

Noise on genuine codes ([`Noise`][antifake.research.attacks.Noise]): missed reads (scans, sales,
retailer
receipts lost), late uploads (events delivered long after they happened: rows moved to the end),
clock skew (a business's clock off by minutes), families scanning an item a few times at
home, travellers scanning once far from home, genuine claims (some after a mistyped or wrong
PIN), retailers listing their own stock online (some twice).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from antifake.detect import (
    CLAIM_DETAILS,
)
from antifake.research._attack_families import FAMILIES
from antifake.research._attack_types import (
    _D,
    _H,
    _INTENT_MISTYPED,
    _INTENT_OK,
    _K,
    ATTACKS,
    CATEGORIES,
    AttackedSimulation,
    AttackError,
    AttackMix,
    AttackTruth,
    Noise,
)
from antifake.research._evaluate import Evaluation, evaluate
from antifake.research._injection import _Injection
from antifake.research._noise_genuine import noise_after, noise_before
from antifake.research.sim import Simulation

__all__ = [
    "ATTACKS",
    "CATEGORIES",
    "AttackMix",
    "AttackTruth",
    "AttackedSimulation",
    "Evaluation",
    "Noise",
    "evaluate",
    "inject",
]


def inject(sim: Simulation, mix: AttackMix | None = None, noise: Noise | None = None,
           seed: int = 0) -> AttackedSimulation:
    """Attacks and noise on ``sim`` (not modified); the same inputs and seed give the same
    result."""
    if not isinstance(sim, Simulation):
        raise AttackError(f"inject takes a Simulation, not {type(sim).__name__}")
    if isinstance(sim, AttackedSimulation):
        raise AttackError("inject takes a genuine simulation (this one is attacked already)")
    mix = AttackMix() if mix is None else mix
    noise = Noise() if noise is None else noise
    if not isinstance(mix, AttackMix) or not isinstance(noise, Noise):
        raise AttackError("mix must be an AttackMix and noise a Noise")
    s = _Injection(sim, mix, noise, seed)
    noise_before(s)
    for family in FAMILIES:
        family(s)
    noise_after(s)
    return _assemble(s)


def _assemble(s: _Injection) -> AttackedSimulation:
    """The attacked simulation: kept genuine rows, then the added events (late uploads moved
    to the end), new nodes and parties, the ground truth."""
    sim, mix, noise, rng, n_e, t = s.sim, s.mix, s.noise, s.rng, s.n_e, s.t
    lat, lon, kind, by, drop, P = s.lat, s.lon, s.kind, s.by, s.drop, s.P
    ev, new_epcs, truth_rows, noise_nodes = s.ev, s.new_epcs, s.truth_rows, s.noise_nodes
    keep = np.flatnonzero(~drop)
    new_ids = np.full(n_e, -1, dtype=np.int64)
    new_ids[keep] = np.arange(len(keep))
    n_keep = len(keep)
    a_inc_e, a_inc_n = ev.incidence()
    remap_new = n_keep - n_e  # new events: base index n_e -> n_keep
    g_rows = ~drop[sim.inc_event]
    inc_event = np.concatenate([new_ids[sim.inc_event[g_rows]], a_inc_e + remap_new])
    inc_node = np.concatenate([sim.inc_node[g_rows], a_inc_n])
    ev_time = np.concatenate([t[keep], ev.column("time", np.int64)])
    ev_kind = np.concatenate([kind[keep], ev.column("kind", np.uint8)])
    ev_by = np.concatenate([by[keep], ev.column("by", np.int32)])
    ev_src = np.concatenate([sim.ev_src[keep], ev.column("src", np.int32)])
    ev_dst = np.concatenate([sim.ev_dst[keep], ev.column("dst", np.int32)])
    ev_lat = np.concatenate([lat[keep], ev.column("lat", np.float64)])
    ev_lon = np.concatenate([lon[keep], ev.column("lon", np.float64)])
    agg_parent = np.concatenate([sim.agg_parent[keep], ev.column("parent", np.int64)])
    ev_detail = np.concatenate([np.zeros(n_keep, np.uint8), ev.column("detail", np.uint8)])
    intent = np.concatenate([np.zeros(n_keep, np.uint8), ev.column("intent", np.uint8)])
    n_ev = len(ev_time)
    # recorded when it happened (business clocks aside), late uploads days later
    ev_record = np.concatenate([sim.ev_time[keep], ev.column("time", np.int64)])
    ev_detail = _claim_results(ev_kind, ev_time, intent, ev_detail, inc_event, inc_node, n_ev)
    ids = rng.integers(0, 2**63, size=ev.n, dtype=np.uint64)
    ev_ids = np.concatenate([sim.ev_ids[keep],
                             np.array([f"sim:{int(h):016x}" for h in ids.tolist()], dtype=object)])
    # late uploads: some events arrive long after they happened (rows moved to the end)
    late_from = n_ev
    if noise.late_upload > 0 and n_ev:
        late = np.flatnonzero(rng.random(n_ev) < noise.late_upload)
        perm = np.concatenate([np.setdiff1d(np.arange(n_ev), late, assume_unique=True), late])
        late_from = n_ev - len(late)
        inv = np.empty(n_ev, dtype=np.int64)
        inv[perm] = np.arange(n_ev)
        ev_time, ev_kind, ev_by, ev_src, ev_dst = (ev_time[perm], ev_kind[perm], ev_by[perm],
                                                   ev_src[perm], ev_dst[perm])
        ev_lat, ev_lon, agg_parent = ev_lat[perm], ev_lon[perm], agg_parent[perm]
        ev_detail, ev_ids = ev_detail[perm], ev_ids[perm]
        ev_record = ev_record[perm]
        ev_record[late_from:] += np.random.default_rng([s.seed, 0x2EC0]).integers(
            _H, 5 * _D, n_ev - late_from)
        inc_event = inv[inc_event]
        o = np.argsort(inc_event, kind="stable")
        inc_event, inc_node = inc_event[o], inc_node[o]
        noise_nodes["late_upload"] = np.unique(inc_node[inc_event >= late_from])
    epcs = np.concatenate([sim.epcs, np.array(new_epcs, dtype=object)]) if new_epcs else \
        sim.epcs
    node_key = np.concatenate([sim.node_key, np.full(len(new_epcs), -1, np.int32)])
    node_batch = np.concatenate([sim.node_batch, np.full(len(new_epcs), -1, np.int64)])

    def obj(a: list[Any]) -> np.ndarray:
        out = np.empty(len(a), dtype=object)
        out[:] = a
        return out

    parties = np.concatenate([sim.parties, obj(P.names)])
    party_role = np.concatenate([sim.party_role, obj(P.role)])
    party_region = np.concatenate([sim.party_region, obj(P.region)])
    party_lat = np.concatenate([sim.party_lat, np.array(P.lat, dtype=np.float64)])
    party_lon = np.concatenate([sim.party_lon, np.array(P.lon, dtype=np.float64)])
    if truth_rows:
        t_nodes = np.concatenate([r[0] for r in truth_rows])
        t_attack = np.concatenate([np.full(len(r[0]), r[1], dtype=object) for r in truth_rows])
        t_start = np.concatenate([r[2] for r in truth_rows])
        t_obs = np.concatenate([r[3] for r in truth_rows])
    else:
        t_nodes, t_attack = np.zeros(0, np.int64), np.zeros(0, object)
        t_start, t_obs = np.zeros(0, np.int64), np.zeros(0, bool)
    truth = AttackTruth(t_nodes, epcs[t_nodes], t_attack, t_start, t_obs)
    for name in list(noise_nodes):
        noise_nodes[name] = np.setdiff1d(noise_nodes[name], t_nodes)
    return AttackedSimulation(
        params=sim.params, seed=sim.seed, epcs=epcs, parties=parties, ev_ids=ev_ids,
        ev_time=ev_time, ev_kind=ev_kind, ev_by=ev_by, ev_src=ev_src, ev_dst=ev_dst,
        ev_lat=ev_lat, ev_lon=ev_lon, inc_event=inc_event, inc_node=inc_node,
        agg_parent=agg_parent, node_key=node_key, node_batch=node_batch,
        party_role=party_role, party_region=party_region, party_lat=party_lat,
        party_lon=party_lon, truth=sim.truth, ev_detail=ev_detail, ev_record=ev_record,
        attacks=truth,
        noise=noise_nodes, late_from=late_from, mix=mix, noise_model=noise,
        added_from=n_keep)


def _claim_results(kind: np.ndarray, time: np.ndarray, intent: np.ndarray, detail: np.ndarray,
                   inc_event: np.ndarray, inc_node: np.ndarray, n_ev: int) -> np.ndarray:
    """What a registry records for each claim attempt (per code, in time order): the first
    correct PIN wins, later attempts are "already_claimed", 5 wrong PINs lock."""
    detail = detail.copy()
    is_claim = kind[inc_event] == _K.CLAIM
    ce, cn = inc_event[is_claim], inc_node[is_claim]
    if not len(ce):
        return detail
    o = np.lexsort((ce, time[ce], cn))
    ce, cn = ce[o], cn[o]
    state: dict[int, list[int]] = {}
    for e, n in zip(ce.tolist(), cn.tolist(), strict=True):
        s = state.setdefault(n, [0, 0])  # [claimed/locked flag, wrong pins]
        want = int(intent[e])
        if s[0] == 1:
            res = "already_claimed"
        elif s[0] == 2:
            res = "locked"
        elif want == _INTENT_MISTYPED:
            res = "mistyped"
        elif want == _INTENT_OK:
            res = "ok"
            s[0] = 1
        else:
            res = "wrong_pin"
            s[1] += 1
            if s[1] >= 5:
                s[0] = 2
        detail[e] = CLAIM_DETAILS[res]
    return detail
