# cython: language_level=3
"""Detection kernels over a trace snapshot (see `antifake.detect`).

Two kernels, both ``nogil``:

``screen``
    marks the *candidates*: nodes whose events could make a rule fire (an observation far
    from home, a listing, a claim other than one plain success, a decommissioning, a sale by
    someone other than the last holder, ...). Every other node is provably quiet: ``analyse``
    would return nothing for it (``tests/test_detect.py`` checks this on whole simulations).
    Random reads are what costs on big snapshots, so the incidence rows (and aggregation
    parents) are radix-partitioned once per snapshot into buckets of 8,192 nodes, each row
    with the few event fields the screen needs; a bucket's node state then stays in cache
    while its rows stream past, twice. Node facts come from the custody segments in node
    order. No read depends on another.
``analyse``
    every rule on a list of nodes, reading each node's own events in time order from the
    graph's CSR arrays, its custody segments and, for the few checks that need them, its
    containers' events during its stays. Returns one record per (node, rule) that fired, with
    a score, aux bits (why), first/last time and evidence (event ranks).

A node's *home* (both kernels): where it was first sold (its first own sale: the sale's
coordinates, else the seller's), else where its last holder is (the party's coordinates,
else those of the event that gave it to that holder), else (``analyse`` only) its first
observation. Coordinates are compared as float32 (about a metre).

Arrays are validated by the Python layer (`antifake.detect.TraceData`); the
kernels index them without bounds checks.
"""

from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memset
from libc.math cimport asin, cos, fabs, floor, sin, sqrt

import numpy as np

from antifake._core import shared_pool

cimport numpy as cnp

cnp.import_array()


# event kinds, detail codes and listing flags (antifake.epcis.kinds), generated from that
# module at build time
include "_vocab.pxi"
include "_aux.pxi"

# the kernels by concern (textual includes: one extension, one namespace)
include "_detect_types.pxi"
include "_detect_node.pxi"
include "_detect_phones.pxi"
include "_detect_screen.pxi"
include "_detect_chain.pxi"
include "_detect_home.pxi"
include "_detect_acts.pxi"
include "_detect_analyse.pxi"


# ---------------------------------------------------------------------------------------
# Python entry points
# ---------------------------------------------------------------------------------------
cdef class Kernel:
    """The arrays of one snapshot, held for the kernels (all validated by the caller), and
    what the kernels build from them once: the packed events and the screen's partition."""

    cdef Ctx c
    cdef list keep
    cdef object packed
    cdef object part_rows
    cdef object part_start
    cdef object windows
    cdef object inc_event
    cdef object inc_node
    cdef readonly Py_ssize_t n_nodes
    cdef readonly Py_ssize_t n_events
    cdef readonly dict timings

    def __init__(self, dict a, dict cfg):
        cdef Ctx* c = &self.c
        self.keep = []
        self.timings = {}

        def arr(name, dtype):
            x = np.ascontiguousarray(a[name], dtype=dtype)
            self.keep.append(x)
            return x

        cdef const int64_t[::1] ev_time = arr("ev_time", np.int64)
        cdef const uint8_t[::1] ev_kind = arr("ev_kind", np.uint8)
        cdef const int32_t[::1] ev_by = arr("ev_by", np.int32)
        cdef const int32_t[::1] ev_dst = arr("ev_dst", np.int32)
        cdef const int64_t[::1] ev_parent = arr("agg_parent", np.int64)
        cdef const double[::1] ev_lat = arr("ev_lat", np.float64)
        cdef const double[::1] ev_lon = arr("ev_lon", np.float64)
        cdef const uint8_t[::1] ev_detail = arr("ev_detail", np.uint8)
        cdef const int32_t[::1] order = arr("order", np.int32)
        cdef const int64_t[::1] own_ptr = arr("own_ptr", np.int64)
        cdef const int32_t[::1] own_rank = arr("own_rank", np.int32)
        cdef const int64_t[::1] seg_ptr = arr("seg_ptr", np.int64)
        cdef const int32_t[::1] seg_start = arr("seg_start", np.int32)
        cdef const int32_t[::1] seg_party = arr("seg_party", np.int32)
        cdef const int64_t[::1] lk_ptr = arr("lk_ptr", np.int64)
        cdef const int32_t[::1] lk_parent = arr("lk_parent", np.int32)
        cdef const int32_t[::1] lk_start = arr("lk_start", np.int32)
        cdef const int32_t[::1] lk_end = arr("lk_end", np.int32)
        cdef const uint8_t[::1] node_item = arr("node_item", np.uint8)
        cdef const double[::1] p_lat = arr("party_lat", np.float64)
        cdef const double[::1] p_lon = arr("party_lon", np.float64)
        cdef const int32_t[::1] p_region = arr("party_region_id", np.int32)
        cdef const uint8_t[::1] p_business = arr("party_business", np.uint8)
        cdef const int16_t[::1] grid = arr("grid", np.int16)
        cdef const int32_t[::1] p_home = arr("party_home", np.int32) \
            if a.get("party_home") is not None else None
        cdef const double[::1] r_lat = arr("region_lat", np.float64) \
            if a.get("region_lat") is not None else None
        cdef const double[::1] r_lon = arr("region_lon", np.float64) \
            if a.get("region_lat") is not None else None
        self.inc_event = arr("inc_event", np.int64)
        self.inc_node = arr("inc_node", np.int64)
        self.n_events = ev_time.shape[0]
        self.n_nodes = node_item.shape[0]
        cdef Py_ssize_t ne = self.n_events, nn = self.n_nodes
        if (ev_kind.shape[0] != ne or ev_by.shape[0] != ne or ev_dst.shape[0] != ne
                or ev_parent.shape[0] != ne or ev_lat.shape[0] != ne or ev_lon.shape[0] != ne
                or ev_detail.shape[0] != ne or order.shape[0] != ne
                or own_ptr.shape[0] != nn + 1 or seg_ptr.shape[0] != nn + 1
                or lk_ptr.shape[0] != nn + 1
                or self.inc_event.shape[0] != self.inc_node.shape[0]
                or p_lon.shape[0] != p_lat.shape[0] or p_region.shape[0] != p_lat.shape[0]
                or p_business.shape[0] != p_lat.shape[0]
                or (p_home is not None and p_home.shape[0] != p_lat.shape[0])):
            raise ValueError("detection kernel: arrays of inconsistent lengths")
        if nn >= (1 << 31) - 1 or ne >= (1 << 31) - 1:
            raise ValueError("detection kernel: too many nodes or events")
        c.ev = NULL
        c.ev_time = &ev_time[0] if ne else NULL
        c.ev_kind = &ev_kind[0] if ne else NULL
        c.ev_by = &ev_by[0] if ne else NULL
        c.ev_dst = &ev_dst[0] if ne else NULL
        c.ev_parent = &ev_parent[0] if ne else NULL
        c.ev_lat = &ev_lat[0] if ne else NULL
        c.ev_lon = &ev_lon[0] if ne else NULL
        c.ev_detail = &ev_detail[0] if ne else NULL
        c.n_events = ne
        c.order = &order[0] if ne else NULL
        c.own_ptr = &own_ptr[0]
        c.own_rank = &own_rank[0] if own_rank.shape[0] else NULL
        c.seg_ptr = &seg_ptr[0]
        c.seg_start = &seg_start[0] if seg_start.shape[0] else NULL
        c.seg_party = &seg_party[0] if seg_party.shape[0] else NULL
        c.lk_ptr = &lk_ptr[0]
        c.lk_parent = &lk_parent[0] if lk_parent.shape[0] else NULL
        c.lk_start = &lk_start[0] if lk_start.shape[0] else NULL
        c.lk_end = &lk_end[0] if lk_end.shape[0] else NULL
        c.node_item = &node_item[0] if nn else NULL
        c.n_nodes = nn
        c.n_parties = p_lat.shape[0]
        c.p_lat = &p_lat[0] if c.n_parties else NULL
        c.p_lon = &p_lon[0] if c.n_parties else NULL
        c.p_region = &p_region[0] if c.n_parties else NULL
        c.p_business = &p_business[0] if c.n_parties else NULL
        c.n_regions = r_lat.shape[0] if r_lat is not None else 0
        if r_lat is not None and r_lon.shape[0] != c.n_regions:
            raise ValueError("detection kernel: region centres of inconsistent lengths")
        c.r_lat = &r_lat[0] if c.n_regions else NULL
        c.r_lon = &r_lon[0] if c.n_regions else NULL
        c.p_home = &p_home[0] if (p_home is not None and c.n_parties and c.n_regions) \
            else NULL
        c.reg_far = NULL
        if c.p_home != NULL and c.n_regions <= 64:
            far = np.zeros(c.n_regions, dtype=np.uint64)
            rl, rn = np.asarray(r_lat), np.asarray(r_lon)
            p1 = np.radians(rl)[:, None]
            p2 = np.radians(rl)[None, :]
            dl = np.radians(rn)[None, :] - np.radians(rn)[:, None]
            hv = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
            dkm = 2 * 6371.0088 * np.arcsin(np.sqrt(np.minimum(hv, 1.0)))
            bits = (dkm > float(cfg.get("phone_home_km", 150.0))) & np.isfinite(dkm)
            for r in range(c.n_regions):
                far[r] = int(np.sum(np.left_shift(np.uint64(1),
                                                  np.flatnonzero(bits[r]).astype(np.uint64))))
            self.keep.append(far)
            c.reg_far = <const uint64_t*>cnp.PyArray_DATA(far)
        c.grid = &grid[0] if grid.shape[0] else NULL
        c.grid_nlat = int(cfg["grid_nlat"])
        c.grid_nlon = int(cfg["grid_nlon"])
        if c.grid_nlat * c.grid_nlon != grid.shape[0]:
            raise ValueError("detection kernel: region grid of the wrong size")
        c.grid_lat0 = float(cfg["grid_lat0"])
        c.grid_lon0 = float(cfg["grid_lon0"])
        c.grid_inv = float(cfg["grid_inv"])
        c.have_regions = 1 if (cfg["have_regions"] and grid.shape[0]) else 0
        c.far_km = float(cfg["far_km"])
        c.travel_km = float(cfg["travel_km"])
        c.travel_kmh = float(cfg["travel_kmh"])
        c.travel_overhead_h = float(cfg["travel_overhead_h"])
        c.location_km = float(cfg["location_km"])
        c.skew_us = int(cfg["skew_us"])
        c.phone_clock_h = float(cfg.get("phone_clock_h", 3.0))
        c.phone_home_km = float(cfg.get("phone_home_km", 150.0))
        c.gap_reach_km = float(cfg.get("gap_reach_km", 300.0))
        c.phone_scanners = int(cfg.get("phone_scanners", 5))
        c.max_scanners = int(cfg["max_scanners"])
        c.weak_scanners = int(cfg["weak_scanners"])
        c.far_scanners = int(cfg["far_scanners"])
        c.max_wrong = int(cfg["max_wrong"])
        c.max_ev = int(cfg["max_ev"])
        c.kinds_mask = int(cfg["kinds_mask"])
        if c.max_ev < 2 or c.max_ev > 4096:
            raise ValueError("detection kernel: max_ev out of range")
        cdef int64_t t_min = 0, t_max = 0
        if ne:
            t_min = int(np.min(ev_time))
            t_max = int(np.max(ev_time))
        c.t_base = t_min
        c.t_shift = 20  # units of 2**20 us (about a second): 142 years fit in 32 bits
        while ((t_max - t_min) >> c.t_shift) > SEC_SPAN:
            c.t_shift += 1

    # -- what the kernels build once ---------------------------------------------------------
    def pack(self):
        """Build packed event records (analyse then reads one cache line per event instead
        of one per column). Not done by default: at 1 M items its 128 MB cost more to fill
        than the random reads they save (measured: 0.25 s against 0.08 s for every
        candidate of a full run)."""
        if self.packed is not None:
            return
        cdef Ctx* c = &self.c
        cdef Py_ssize_t n = self.n_events, i
        packed = np.empty(max(1, n) * sizeof(EvRec), dtype=np.uint8)
        cdef uint8_t[::1] pk = packed
        cdef EvRec* P = <EvRec*>&pk[0]
        cdef uint8_t k
        cdef float la, lo
        with nogil:
            for i in range(n):
                k = c.ev_kind[i]
                la = <float>c.ev_lat[i]
                lo = <float>c.ev_lon[i]
                P[i].t = c.ev_time[i]
                P[i].lat = la
                P[i].lon = lo
                P[i].by = c.ev_by[i]
                P[i].dst = c.ev_dst[i]
                P[i].kind = k
                P[i].detail = c.ev_detail[i]
                P[i].located = (k == K_SCAN or k == K_CLAIM or k == K_SELL) and valid_ll(la, lo)
                P[i].pad0 = 0
                P[i].pad1 = 0
        self.packed = packed
        c.ev = P

    def _part_count(self, Py_ssize_t lo, Py_ssize_t hi, int64_t[::1] cnt):
        cdef const int64_t[::1] inn = self.inc_node
        cdef Py_ssize_t m = inn.shape[0]
        with nogil:
            part_count(&self.c, &inn[0] if m else NULL, m, lo, hi, &cnt[0])

    def _part_fill(self, Py_ssize_t lo, Py_ssize_t hi, int64_t[::1] pos):
        cdef const int64_t[::1] ie = self.inc_event
        cdef const int64_t[::1] inn = self.inc_node
        cdef Py_ssize_t m = inn.shape[0]
        cdef uint8_t[::1] rows = self.part_rows
        with nogil:
            part_fill(&self.c, &ie[0] if m else NULL, &inn[0] if m else NULL, m, lo, hi,
                      &pos[0], <PRow*>&rows[0])

    def partition(self, int threads=1):
        """Radix-partition the incidence rows (and aggregation parents) by node bucket."""
        if self.part_rows is not None:
            return
        cdef Py_ssize_t n_b = max(1, (self.n_nodes + (1 << BUCKET_BITS) - 1) >> BUCKET_BITS)
        cdef Py_ssize_t total = self.inc_node.shape[0] + self.n_events
        cdef Py_ssize_t mid = total // 2 if threads > 1 else total
        cnt0 = np.zeros(n_b, dtype=np.int64)
        cnt1 = np.zeros(n_b, dtype=np.int64)
        pool = _pool() if threads > 1 else None
        if pool is not None:
            f = pool.submit(self._part_count, mid, total, cnt1)
            self._part_count(0, mid, cnt0)
            f.result()
        else:
            self._part_count(0, total, cnt0)
        sizes = cnt0 + cnt1
        start = np.zeros(n_b + 1, dtype=np.int64)
        np.cumsum(sizes, out=start[1:])
        self.part_rows = np.empty(max(1, int(start[n_b])) * sizeof(PRow), dtype=np.uint8)
        pos0 = start[:n_b].copy()
        pos1 = start[:n_b] + cnt0
        if pool is not None:
            f = pool.submit(self._part_fill, mid, total, pos1)
            self._part_fill(0, mid, pos0)
            f.result()
        else:
            self._part_fill(0, total, pos0)
        self.part_start = start

    def _screen_buckets(self, Py_ssize_t first, Py_ssize_t step, Py_ssize_t win,
                        cand_a, obs_a, int64_t[::1] key):
        cdef uint8_t[::1] cand = cand_a.view(np.uint8)
        cdef uint8_t[::1] obs = obs_a.view(np.uint8)
        cdef const int64_t[::1] start = self.part_start
        cdef uint8_t[::1] rows = self.part_rows
        cdef uint8_t[::1] w = self.windows
        cdef NodeState* W = <NodeState*>&w[win * (1 << BUCKET_BITS) * sizeof(NodeState)]
        cdef PRow* P = <PRow*>&rows[0]
        cdef Py_ssize_t b, n_b = start.shape[0] - 1
        with nogil:
            b = first
            while b < n_b:
                screen_bucket(&self.c, W, b, &P[start[b]], start[b + 1] - start[b], &cand[0],
                              &obs[0], &key[0])
                b += step

    def screen(self, int threads=1):
        """``(cand, observed, key)``: candidate nodes (bool), nodes with a located scan or
        claim (bool), delivery group of every node (rank of the event that gave it to its
        last holder, -1 none)."""
        import time

        cdef Py_ssize_t n = self.n_nodes
        cand_a = np.empty(n, dtype=np.bool_)
        obs_a = np.empty(n, dtype=np.bool_)
        key_a = np.empty(n, dtype=np.int64)
        if n == 0:
            return cand_a, obs_a, key_a
        t0 = time.perf_counter()
        self.partition(threads)
        t1 = time.perf_counter()
        if self.windows is None:
            self.windows = np.empty(2 * (1 << BUCKET_BITS) * sizeof(NodeState), dtype=np.uint8)
        pool = _pool() if threads > 1 and n > (1 << BUCKET_BITS) else None
        if pool is not None:
            f = pool.submit(self._screen_buckets, 1, 2, 1, cand_a, obs_a, key_a)
            self._screen_buckets(0, 2, 0, cand_a, obs_a, key_a)
            f.result()
        else:
            self._screen_buckets(0, 1, 0, cand_a, obs_a, key_a)
        self.timings["partition"] = self.timings.get("partition", 0.0) + (t1 - t0)
        self.timings["buckets"] = time.perf_counter() - t1
        return cand_a, obs_a, key_a

    def keys(self):
        """The delivery group (rank) of every node: a pass over the custody segments."""
        cdef Py_ssize_t n = self.n_nodes, i
        key_a = np.empty(n, dtype=np.int64)
        cdef int64_t[::1] key = key_a
        cdef NodeInfo ni
        with nogil:
            for i in range(n):
                segment_facts(&self.c, i, &ni)
                key[i] = ni.key_rank
        return key_a

    def analyse(self, const int32_t[::1] nodes):
        """Every rule on ``nodes``: ``(recs, ev_ranks, key, observed)``; ``recs`` a structured
        array (node, kind, score, aux, first, last, ev_off, ev_n), ``ev_ranks`` the evidence
        ranks of each record (``ev_off``, ``ev_n``), ``key``/``observed`` as in ``screen``
        for each node given."""
        cdef Py_ssize_t n = nodes.shape[0], i, max_own = 0, deg
        cdef Py_ssize_t nn = self.n_nodes
        for i in range(n):
            if nodes[i] < 0 or nodes[i] >= nn:
                raise IndexError("analyse: node id out of range")
        key_a = np.empty(n, dtype=np.int64)
        obs_a = np.zeros(n, dtype=np.bool_)
        cdef int64_t[::1] key = key_a
        cdef uint8_t[::1] obs = obs_a.view(np.uint8)
        for i in range(n):
            deg = self.c.own_ptr[nodes[i] + 1] - self.c.own_ptr[nodes[i]]
            if deg > max_own:
                max_own = deg
        cdef Scratch s
        cdef Out o
        memset(&s, 0, sizeof(Scratch))
        memset(&o, 0, sizeof(Out))
        s.evb = <int32_t*>malloc(N_KINDS * self.c.max_ev * sizeof(int32_t))
        s.evn = <int32_t*>malloc(N_KINDS * sizeof(int32_t))
        cdef int err = 0
        try:
            if s.evb == NULL or s.evn == NULL or scratch_need(&s, max_own + 1) < 0:
                raise MemoryError()
            with nogil:
                for i in range(n):
                    if analyse_node(&self.c, nodes[i], &s, &o, &key[i], &obs[i]) < 0:
                        err = 1
                        break
            if err or o.failed:
                raise MemoryError()
            recs = np.empty(o.n_recs, dtype=REC_DTYPE)
            if o.n_recs:
                recs.view(np.uint8)[:] = np.asarray(<uint8_t[:o.n_recs * sizeof(Rec)]>
                                                    (<uint8_t*>o.recs))
            ev = np.empty(o.n_ev, dtype=np.int32)
            if o.n_ev:
                ev[:] = np.asarray(<int32_t[:o.n_ev]>o.ev)
        finally:
            free(s.ev)
            free(s.a)
            free(s.b)
            free(s.evb)
            free(s.evn)
            free(o.recs)
            free(o.ev)
        return recs, ev, key_a, obs_a


def _pool():
    """The kernels' shared thread pool (the caller's thread is the other worker)."""
    return shared_pool(1)


REC_DTYPE = np.dtype([
    ("node", np.int32), ("kind", np.int32), ("score", np.float32), ("aux", np.int32),
    ("first", np.int64), ("last", np.int64), ("ev_off", np.int64), ("ev_n", np.int32),
    ("pad", np.int32),
])
assert REC_DTYPE.itemsize == sizeof(Rec)


# ---------------------------------------------------------------------------------------
# marketplace listing checks
# ---------------------------------------------------------------------------------------

def listing_flags(Kernel k, const int32_t[::1] nodes, const int32_t[::1] sellers,
                  const int32_t[::1] cust_now):
    """Per (node, seller): a bit set of the reasons a listing is refused (0: ok), and the
    decommissioning reason (detail code) where there is one. ``node`` -1: unknown code;
    ``seller`` -1: a party the snapshot does not know."""
    cdef Py_ssize_t n = nodes.shape[0], i, j
    if sellers.shape[0] != n:
        raise ValueError("listing_flags: nodes and sellers of different lengths")
    if cust_now.shape[0] != k.n_nodes:
        raise ValueError("listing_flags: custodian array of the wrong length")
    for i in range(n):
        if nodes[i] >= k.n_nodes or sellers[i] >= k.c.n_parties:
            raise IndexError("listing_flags: id out of range")
    flags_a = np.zeros(n, dtype=np.uint16)
    why_a = np.zeros(n, dtype=np.uint8)
    cdef uint16_t[::1] flags = flags_a
    cdef uint8_t[::1] why = why_a
    cdef const Ctx* c = &k.c
    cdef int32_t x, p, r
    cdef int64_t e
    cdef uint8_t kind, det
    cdef bint decomm, claimed
    cdef uint8_t reason
    with nogil:
        for i in range(n):
            x = nodes[i]
            p = sellers[i]
            if x < 0:
                flags[i] = L_UNKNOWN_CODE
                continue
            decomm = False
            claimed = False
            reason = 0
            for j in range(c.own_ptr[x], c.own_ptr[x + 1]):
                r = c.own_rank[j]
                e = c.order[r]
                kind = c.ev_kind[e]
                det = c.ev_detail[e]
                if kind == K_DECOMMISSION:
                    if not decomm:
                        decomm = True
                        reason = det
                elif kind == K_REACTIVATE:
                    decomm = False
                elif kind == K_CLAIM and not decomm and det == D_OK:
                    claimed = True
                elif kind == K_LIST and c.ev_by[e] >= 0 and c.ev_by[e] != p:
                    flags[i] |= L_LISTED_BY_OTHERS
            if decomm:
                flags[i] |= L_DECOMMISSIONED
                why[i] = reason
            if claimed:
                flags[i] |= L_CLAIMED
            if cust_now[x] != p or p < 0:
                if cust_now[x] == -1 and c.seg_ptr[x + 1] > c.seg_ptr[x] and \
                        c.seg_party[c.seg_ptr[x + 1] - 1] == -1:
                    flags[i] |= L_SOLD
                if p < 0 or not in_chain(c, x, p):
                    flags[i] |= L_NOT_IN_CHAIN
                else:
                    flags[i] |= L_NOT_CUSTODIAN
    return flags_a, why_a


# ---------------------------------------------------------------------------------------
# alert objects
# ---------------------------------------------------------------------------------------
def make_alerts(cls, list kind_names, list codes, list scores, tuple names,
                const int64_t[::1] starts, const int64_t[::1] ends, list firsts, list lasts,
                list reasons):
    """``[cls((kind, (code,), score, names[start:end], first, last, reason)), ...]`` built
    with ``tuple.__new__`` (``cls`` is a tuple subclass): one C loop, no validation."""
    cdef Py_ssize_t n = len(codes), i
    if not (len(kind_names) == len(scores) == len(firsts) == len(lasts) == len(reasons) == n
            and starts.shape[0] == n and ends.shape[0] == n):
        raise ValueError("make_alerts: fields of different lengths")
    new = tuple.__new__
    out = [None] * n
    for i in range(n):
        out[i] = new(cls, (kind_names[i], (codes[i],), scores[i], names[starts[i]:ends[i]],
                           firsts[i], lasts[i], reasons[i]))
    return out
