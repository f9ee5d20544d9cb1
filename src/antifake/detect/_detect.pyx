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

from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t
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

# alert kinds (antifake.detect.KINDS order)
cdef enum:
    A_TRAVEL = 0
    A_OVER = 1
    A_DIVERSION = 2
    A_UNAUTH = 3
    A_INACTIVE = 4
    A_ORDER = 5
    A_LOCKOUT = 6
    A_DUPLICATE = 7
    N_KINDS = 8

# aux bits (why a rule fired; antifake.detect formats them)
cdef enum:
    X_SAME_SCANNER = 1          # impossible_travel: one device only
    X_FAR_SCANNERS = 1          # over_scanned: distinct scanners far from home
    X_MANY_SCANNERS = 2         # over_scanned: distinct scanners in all
    X_FAR_VISITS = 4            # over_scanned: far from home, back, and far again
    X_OUT_SCAN = 1              # diversion: scans outside the delivered regions
    X_OUT_SALE = 2              # diversion: a sale outside them
    X_U_SELL = 1                # unauthorized_seller
    X_U_LIST = 2
    X_U_CLAIM = 4
    X_U_FORMER = 8              # listed by a former holder
    X_U_GAP = 16                # sold by a shop the recorded chain may not reach (a gap)
    X_O_BEFORE_COMMISSION = 1   # out_of_order
    X_O_UNKNOWN_ITEM = 2
    X_O_AFTER_SALE = 4
    X_O_RECEIVE_BEFORE_SHIP = 8
    X_O_OUTSIDER = 16
    X_I_CLAIMED = 64            # inactive: activity after a successful claim (low bits: reason)

# screen: node flags
cdef enum:
    F_CAND = 1
    F_OBSERVED = 2
    F_ANCHOR = 4
    F_SALE_SEEN = 8
    F_AGG_CHILD = 16

# screen: row flags (in PRow.det, above the detail code)
cdef enum:
    P_LOCATED = 0x80
    P_PARENT = 0x40
    P_DETAIL = 0x3F

cdef uint32_t NONE_S = 4294967295u
cdef uint32_t SEC_CAP = 4294967280u
cdef int64_t SEC_SPAN = 4294967040
DEF EARTH_KM = 6371.0088
DEF KM_PER_DEG = 111.19508
DEF DEG = 0.017453292519943295
DEF MAX_STACK = 64
DEF BUCKET_BITS = 13


cdef struct EvRec:
    # one event's fields packed in 32 bytes (input order): one cache line per visit
    int64_t t
    float lat
    float lon
    int32_t by
    int32_t dst
    uint8_t kind
    uint8_t detail
    uint8_t located     # a scan, claim or sale with coordinates
    uint8_t pad0
    int32_t pad1


cdef struct PRow:
    # one incidence (or aggregation-parent) row as the screen sees it: 20 bytes
    uint16_t off        # node - bucket start
    uint8_t kind
    uint8_t det         # detail code | P_LOCATED | P_PARENT
    int32_t by
    uint32_t ts         # time in units of 2**t_shift us from t_base
    float lat
    float lon


cdef struct NodeState:
    float lat
    float lon
    float coslat
    int32_t first
    int32_t last
    uint32_t comm_s     # first commissioning (NONE_S: none)
    uint32_t min_s      # earliest other own event
    uint32_t ok_claim_s # earliest successful claim
    uint32_t sell_s     # latest sale
    uint32_t ship_s     # latest shipment
    uint32_t recv_s     # earliest receipt
    uint16_t cnt        # located scans and claims
    uint8_t flags
    uint8_t n_claims
    uint8_t n_sells
    uint8_t pad0
    uint16_t pad1


cdef struct Ctx:
    # events, input order
    const EvRec* ev     # packed copy (NULL until built): analyse reads it when present
    const int64_t* ev_time
    const uint8_t* ev_kind
    const int32_t* ev_by
    const int32_t* ev_dst
    const int64_t* ev_parent
    const double* ev_lat
    const double* ev_lon
    const uint8_t* ev_detail
    Py_ssize_t n_events
    int64_t t_base
    int t_shift
    # snapshot
    const int32_t* order
    const int64_t* own_ptr
    const int32_t* own_rank
    const int64_t* seg_ptr
    const int32_t* seg_start
    const int32_t* seg_party
    const int64_t* lk_ptr
    const int32_t* lk_parent
    const int32_t* lk_start
    const int32_t* lk_end
    const uint8_t* node_item
    Py_ssize_t n_nodes
    # parties
    const double* p_lat
    const double* p_lon
    const int32_t* p_region
    const uint8_t* p_business   # 0 consumer, 1 business, 2 upstream (maker, wholesale), 3 shop
    Py_ssize_t n_parties
    # regions: a grid of region ids (-1 outside every region); have_regions = 0: unknown
    const int16_t* grid
    int grid_nlat
    int grid_nlon
    double grid_lat0
    double grid_lon0
    double grid_inv
    int have_regions
    # configuration
    double far_km
    double travel_km
    double travel_kmh
    double travel_overhead_h
    double location_km
    int64_t skew_us
    int max_scanners
    int weak_scanners
    int far_scanners
    int max_wrong
    int max_ev
    int32_t kinds_mask


cdef struct Rec:
    int32_t node
    int32_t kind
    float score
    int32_t aux
    int64_t first
    int64_t last
    int64_t ev_off
    int32_t ev_n
    int32_t pad


cdef struct Out:
    Rec* recs
    Py_ssize_t n_recs
    Py_ssize_t cap_recs
    int32_t* ev
    Py_ssize_t n_ev
    Py_ssize_t cap_ev
    int failed


cdef inline bint valid_ll(double lat, double lon) noexcept nogil:
    return fabs(lat) <= 90.0 and fabs(lon) <= 180.0


cdef inline double haversine(double lat1, double lon1, double lat2, double lon2) noexcept nogil:
    cdef double s1 = sin((lat2 - lat1) * DEG * 0.5)
    cdef double s2 = sin((lon2 - lon1) * DEG * 0.5)
    cdef double a = s1 * s1 + cos(lat1 * DEG) * cos(lat2 * DEG) * s2 * s2
    if a > 1.0:
        a = 1.0
    return 2.0 * EARTH_KM * asin(sqrt(a))


cdef inline int32_t region_of(const Ctx* c, double lat, double lon) noexcept nogil:
    """Region id of a point: -1 outside every known region, -2 when no region is known."""
    if not c.have_regions:
        return -2
    cdef double fi = floor((lat - c.grid_lat0) * c.grid_inv)
    cdef double fj = floor((lon - c.grid_lon0) * c.grid_inv)
    if fi < 0 or fj < 0 or fi >= c.grid_nlat or fj >= c.grid_nlon:
        return -1
    return c.grid[<Py_ssize_t>fi * c.grid_nlon + <Py_ssize_t>fj]


cdef inline uint32_t secs(const Ctx* c, int64_t t) noexcept nogil:
    cdef int64_t v = (t - c.t_base) >> c.t_shift
    if v < 0:
        return 0
    if v > SEC_CAP:
        return SEC_CAP
    return <uint32_t>v


cdef inline uint8_t ev_kind(const Ctx* c, int64_t e) noexcept nogil:
    return c.ev[e].kind if c.ev != NULL else c.ev_kind[e]


# ---------------------------------------------------------------------------------------
# per-node facts from the custody segments (shared by screen and analyse)
# ---------------------------------------------------------------------------------------
cdef struct NodeInfo:
    int32_t first          # first holder (party), -1 none
    int32_t last           # last holder, -1 none
    Py_ssize_t last_seg    # segment of the last holder, -1 none
    Py_ssize_t reentry     # first segment with a holder after a sale, -1 none
    double lat             # where the last holder is (see the module docstring)
    double lon
    bint has_anchor
    int64_t key_rank       # delivery group: rank of the event that gave it to `last`


cdef inline void segment_facts(const Ctx* c, Py_ssize_t n, NodeInfo* ni) noexcept nogil:
    cdef Py_ssize_t s
    cdef int32_t p
    cdef bint after_sale = False
    ni.first = -1
    ni.last = -1
    ni.last_seg = -1
    ni.reentry = -1
    ni.has_anchor = False
    ni.lat = 0.0
    ni.lon = 0.0
    ni.key_rank = -1
    for s in range(c.seg_ptr[n], c.seg_ptr[n + 1]):
        p = c.seg_party[s]
        if p >= 0:
            if ni.first < 0:
                ni.first = p
            ni.last = p
            ni.last_seg = s
            if after_sale and ni.reentry < 0:
                ni.reentry = s
            after_sale = False
        elif p == -1:
            after_sale = True
    if ni.last_seg >= 0:
        ni.key_rank = c.seg_start[ni.last_seg]
        if valid_ll(<float>c.p_lat[ni.last], <float>c.p_lon[ni.last]):
            ni.lat = <float>c.p_lat[ni.last]
            ni.lon = <float>c.p_lon[ni.last]
            ni.has_anchor = True


cdef void node_info(const Ctx* c, Py_ssize_t n, NodeInfo* ni) noexcept nogil:
    """Segment facts, and the last holder's location with the event fallback (a random
    read the screen skips: it treats such nodes as having no home)."""
    cdef int64_t e
    cdef float la, lo
    segment_facts(c, n, ni)
    if not ni.has_anchor and ni.last_seg >= 0:
        e = c.order[ni.key_rank]
        la = <float>c.ev_lat[e]
        lo = <float>c.ev_lon[e]
        if valid_ll(la, lo):
            ni.lat = la
            ni.lon = lo
            ni.has_anchor = True


cdef struct Ev:
    int64_t e
    int64_t t
    int32_t r
    int32_t by
    int32_t dst
    uint8_t kind
    uint8_t detail
    uint8_t located
    uint8_t pad
    double lat
    double lon


cdef inline void load_ev(const Ctx* c, int64_t e, Ev* x) noexcept nogil:
    cdef const EvRec* p
    cdef float la, lo
    if c.ev != NULL:
        p = &c.ev[e]
        x.t = p.t
        x.kind = p.kind
        x.by = p.by
        x.dst = p.dst
        x.detail = p.detail
        x.lat = p.lat
        x.lon = p.lon
        x.located = p.located
    else:
        x.t = c.ev_time[e]
        x.kind = c.ev_kind[e]
        x.by = c.ev_by[e]
        x.dst = c.ev_dst[e]
        x.detail = c.ev_detail[e]
        la = <float>c.ev_lat[e]
        lo = <float>c.ev_lon[e]
        x.lat = la
        x.lon = lo
        x.located = (x.kind == K_SCAN or x.kind == K_CLAIM or x.kind == K_SELL) and \
            valid_ll(la, lo)


# ---------------------------------------------------------------------------------------
# screen: partition (once per snapshot), then buckets
# ---------------------------------------------------------------------------------------
cdef void part_count(const Ctx* c, const int64_t* inc_node, Py_ssize_t n_inc,
                     Py_ssize_t lo, Py_ssize_t hi, int64_t* cnt) noexcept nogil:
    """Rows [lo, hi) of (incidence rows, then events as aggregation parents): per bucket."""
    cdef Py_ssize_t i
    cdef int64_t nd
    for i in range(lo, hi):
        if i < n_inc:
            nd = inc_node[i]
        else:
            nd = c.ev_parent[i - n_inc]
            if nd < 0:
                continue
        cnt[nd >> BUCKET_BITS] += 1


cdef void part_fill(const Ctx* c, const int64_t* inc_event, const int64_t* inc_node,
                    Py_ssize_t n_inc, Py_ssize_t lo, Py_ssize_t hi, int64_t* pos,
                    PRow* P) noexcept nogil:
    cdef Py_ssize_t i
    cdef int64_t nd, e, j
    cdef uint8_t k, det
    cdef PRow* q
    cdef float la, ln
    for i in range(lo, hi):
        if i < n_inc:
            nd = inc_node[i]
            e = inc_event[i]
            det = 0
        else:
            e = i - n_inc
            nd = c.ev_parent[e]
            if nd < 0:
                continue
            det = P_PARENT
        j = pos[nd >> BUCKET_BITS]
        pos[nd >> BUCKET_BITS] = j + 1
        q = &P[j]
        k = c.ev_kind[e]
        la = <float>c.ev_lat[e]
        ln = <float>c.ev_lon[e]
        if (k == K_SCAN or k == K_CLAIM or k == K_SELL) and valid_ll(la, ln):
            det |= P_LOCATED
        q.off = <uint16_t>(nd & ((1 << BUCKET_BITS) - 1))
        q.kind = k
        q.det = det | (c.ev_detail[e] & P_DETAIL)
        q.by = c.ev_by[e]
        q.ts = secs(c, c.ev_time[e])
        q.lat = la
        q.lon = ln


cdef void screen_bucket(const Ctx* c, NodeState* W, Py_ssize_t b, const PRow* rows,
                        Py_ssize_t n_rows, uint8_t* cand, uint8_t* obs,
                        int64_t* key) noexcept nogil:
    cdef Py_ssize_t lo = b << BUCKET_BITS, hi = lo + (1 << BUCKET_BITS), n, i
    cdef NodeInfo ni
    cdef NodeState* st
    cdef const PRow* q
    cdef uint8_t k, d
    cdef int32_t p
    cdef double dy, dx
    cdef int64_t lhs, rhs
    # a point farther than this from home may be part of an impossible pair or far scan
    cdef double thr = 0.9 * (c.far_km if c.far_km < 0.5 * c.travel_km else 0.5 * c.travel_km)
    cdef double thr2 = (thr / KM_PER_DEG) * (thr / KM_PER_DEG)
    cdef int weak = c.weak_scanners if c.weak_scanners > 1 else 1
    if hi > c.n_nodes:
        hi = c.n_nodes
    # custody facts, in node order
    for n in range(lo, hi):
        st = &W[n - lo]
        segment_facts(c, n, &ni)
        st.first = ni.first
        st.last = ni.last
        st.cnt = 0
        st.n_claims = 0
        st.n_sells = 0
        st.comm_s = NONE_S
        st.min_s = NONE_S
        st.ok_claim_s = NONE_S
        st.recv_s = NONE_S
        st.sell_s = 0
        st.ship_s = 0
        st.flags = 0
        st.lat = 0.0
        st.lon = 0.0
        key[n] = ni.key_rank
        if ni.has_anchor:
            st.lat = <float>ni.lat
            st.lon = <float>ni.lon
            st.flags = F_ANCHOR
        if ni.reentry >= 0:
            st.flags |= F_CAND
    # pass 1: commissioning, sales (home), shipping and receiving
    for i in range(n_rows):
        q = &rows[i]
        k = q.kind
        st = &W[q.off]
        if k == K_COMMISSION:
            if q.ts < st.comm_s:
                st.comm_s = q.ts
        elif k == K_SELL:
            if st.n_sells < 255:
                st.n_sells += 1
            if q.ts > st.sell_s:
                st.sell_s = q.ts
            if st.n_sells == 1:
                if q.det & P_LOCATED:
                    st.lat = q.lat
                    st.lon = q.lon
                    st.flags |= F_ANCHOR
                elif q.by >= 0 and valid_ll(<float>c.p_lat[q.by], <float>c.p_lon[q.by]):
                    st.lat = <float>c.p_lat[q.by]
                    st.lon = <float>c.p_lon[q.by]
                    st.flags |= F_ANCHOR
            else:
                st.flags |= F_CAND  # several sales: the first one is home; analyse decides
        elif k == K_SHIP:
            if q.ts > st.ship_s or st.ship_s == 0:
                st.ship_s = q.ts if q.ts > 0 else 1
        elif k == K_RECEIVE:
            if q.ts < st.recv_s:
                st.recv_s = q.ts
        elif k == K_AGGREGATE and not (q.det & P_PARENT):
            st.flags |= F_AGG_CHILD
    for n in range(lo, hi):
        st = &W[n - lo]
        if st.flags & F_ANCHOR:
            st.coslat = <float>cos(st.lat * DEG)
    # pass 2: everything else
    for i in range(n_rows):
        q = &rows[i]
        k = q.kind
        if k == K_COMMISSION or k == K_OTHER or k == K_COMPLAINT:
            continue
        st = &W[q.off]
        if q.ts < st.min_s:
            st.min_s = q.ts
        if k == K_SCAN or k == K_CLAIM or k == K_SELL:
            if k == K_CLAIM:
                if st.n_claims < 255:
                    st.n_claims += 1
                d = q.det & P_DETAIL
                if st.n_claims >= 2 or d != D_OK or (q.by >= 0 and c.p_business[q.by]):
                    st.flags |= F_CAND
                elif q.ts < st.ok_claim_s:
                    st.ok_claim_s = q.ts
            elif k == K_SELL:
                if q.by != st.last:
                    st.flags |= F_CAND
            if not (q.det & P_LOCATED):
                continue
            if k != K_SELL:
                st.flags |= F_OBSERVED
                if st.cnt < 65535:
                    st.cnt += 1
                if st.cnt >= weak:
                    st.flags |= F_CAND
            if st.flags & F_ANCHOR:
                dy = q.lat - st.lat
                dx = q.lon - st.lon
                if dx > 180.0:
                    dx -= 360.0
                elif dx < -180.0:
                    dx += 360.0
                dx = dx * st.coslat
                if dy * dy + dx * dx > thr2:
                    st.flags |= F_CAND
            else:
                st.flags |= F_CAND
        elif k == K_AGGREGATE or k == K_DISAGGREGATE:
            p = q.by
            if p >= 0 and p != st.first and p != st.last:
                st.flags |= F_CAND
        elif k != K_SHIP and k != K_RECEIVE:
            st.flags |= F_CAND  # listing, (de/re)commissioning
    # per node: events before commissioning, a sale after a claim, a receipt before its
    # shipment, an item never commissioned packed somewhere
    for n in range(lo, hi):
        st = &W[n - lo]
        if st.comm_s != NONE_S:
            if st.min_s != NONE_S:
                lhs = <int64_t>st.min_s << c.t_shift
                rhs = ((<int64_t>st.comm_s + 1) << c.t_shift) - c.skew_us
                if lhs < rhs:
                    st.flags |= F_CAND
        elif st.flags & F_AGG_CHILD:
            st.flags |= F_CAND
        if st.ok_claim_s != NONE_S and st.n_sells and st.sell_s >= st.ok_claim_s:
            st.flags |= F_CAND
        if st.ship_s and st.recv_s != NONE_S and st.ship_s >= st.recv_s:
            st.flags |= F_CAND
        cand[n] = 1 if (st.flags & F_CAND) else 0
        obs[n] = 1 if (st.flags & F_OBSERVED) else 0


# ---------------------------------------------------------------------------------------
# analyse
# ---------------------------------------------------------------------------------------
cdef struct Scratch:
    Ev* ev
    Py_ssize_t cap
    int32_t* a       # scratch ints (distinct scanners, listers, ...)
    int32_t* b
    Py_ssize_t cap_ab
    int32_t* evb     # per-kind evidence, N_KINDS * max_ev ranks
    int32_t* evn     # per-kind evidence count


cdef int scratch_need(Scratch* s, Py_ssize_t m) noexcept nogil:
    cdef Ev* p
    cdef int32_t* q
    if m > s.cap:
        p = <Ev*>realloc(s.ev, m * sizeof(Ev))
        if p == NULL:
            return -1
        s.ev = p
        s.cap = m
    if m > s.cap_ab:
        q = <int32_t*>realloc(s.a, m * sizeof(int32_t))
        if q == NULL:
            return -1
        s.a = q
        q = <int32_t*>realloc(s.b, m * sizeof(int32_t))
        if q == NULL:
            return -1
        s.b = q
        s.cap_ab = m
    return 0


cdef inline void add_ev(const Ctx* c, Scratch* s, int kind, int32_t r) noexcept nogil:
    cdef int32_t k = s.evn[kind], i
    cdef int32_t* base = &s.evb[kind * c.max_ev]
    for i in range(k):
        if base[i] == r:
            return
    if k < c.max_ev:
        base[k] = r
        s.evn[kind] = k + 1


cdef int emit(const Ctx* c, Out* o, Scratch* s, int32_t node, int kind, double score,
              int32_t aux, int64_t first, int64_t last) noexcept nogil:
    cdef Rec* nr
    cdef int32_t* ne
    cdef Py_ssize_t cap, i
    cdef int32_t k = s.evn[kind]
    if not (c.kinds_mask & (1 << kind)):
        return 0
    if score > 1.0:
        score = 1.0
    if o.n_recs == o.cap_recs:
        cap = o.cap_recs * 2 + 64
        nr = <Rec*>realloc(o.recs, cap * sizeof(Rec))
        if nr == NULL:
            o.failed = 1
            return -1
        o.recs = nr
        o.cap_recs = cap
    if o.n_ev + k > o.cap_ev:
        cap = (o.cap_ev + k) * 2 + 256
        ne = <int32_t*>realloc(o.ev, cap * sizeof(int32_t))
        if ne == NULL:
            o.failed = 1
            return -1
        o.ev = ne
        o.cap_ev = cap
    o.recs[o.n_recs].node = node
    o.recs[o.n_recs].kind = kind
    o.recs[o.n_recs].score = <float>score
    o.recs[o.n_recs].aux = aux
    o.recs[o.n_recs].first = first
    o.recs[o.n_recs].last = last
    o.recs[o.n_recs].ev_off = o.n_ev
    o.recs[o.n_recs].ev_n = k
    o.recs[o.n_recs].pad = 0
    for i in range(k):
        o.ev[o.n_ev + i] = s.evb[kind * c.max_ev + i]
    o.n_ev += k
    o.n_recs += 1
    return 0


cdef inline bint in_chain(const Ctx* c, Py_ssize_t n, int32_t p) noexcept nogil:
    cdef Py_ssize_t s
    if p < 0:
        return False
    for s in range(c.seg_ptr[n], c.seg_ptr[n + 1]):
        if c.seg_party[s] == p:
            return True
    return False


cdef bint shipped_to(const Ctx* c, Py_ssize_t n, int32_t p, int32_t r_max) noexcept nogil:
    """Whether a SHIP to ``p`` at rank <= r_max names the node or a container it was in at
    the time (the destination of goods in transit, its receipt perhaps never recorded)."""
    cdef int32_t st_node[MAX_STACK]
    cdef int32_t st_lo[MAX_STACK]
    cdef int32_t st_hi[MAX_STACK]
    cdef int sp = 0
    cdef int32_t x, lo, hi, r, a, b
    cdef Py_ssize_t j, s
    cdef int64_t e
    if p < 0:
        return False
    st_node[0] = <int32_t>n
    st_lo[0] = 0
    st_hi[0] = r_max + 1
    sp = 1
    while sp > 0:
        sp -= 1
        x = st_node[sp]
        lo = st_lo[sp]
        hi = st_hi[sp]
        for j in range(c.own_ptr[x], c.own_ptr[x + 1]):
            r = c.own_rank[j]
            if r < lo:
                continue
            if r >= hi:
                break
            e = c.order[r]
            if ev_kind(c, e) == K_SHIP and c.ev_dst[e] == p:
                return True
        for s in range(c.lk_ptr[x], c.lk_ptr[x + 1]):
            a = c.lk_start[s] if c.lk_start[s] > lo else lo
            b = c.lk_end[s] if c.lk_end[s] < hi else hi
            if a < b and sp < MAX_STACK:
                st_node[sp] = c.lk_parent[s]
                st_lo[sp] = a
                st_hi[sp] = b
                sp += 1
    return False


cdef inline bint authorized(const Ctx* c, Py_ssize_t n, int32_t p, int32_t r) noexcept nogil:
    return in_chain(c, n, p) or shipped_to(c, n, p, r)


cdef inline bint chain_gap(const Ctx* c, const NodeInfo* ni, int32_t p,
                           int lowest_tier=3) noexcept nogil:
    """Whether an act of ``p`` may follow unrecorded steps: the recorded custody stops at a
    maker or wholesaler (who pass goods on), or is empty, and ``p`` is a shop (or, with
    ``lowest_tier`` 2, a wholesaler too)."""
    if p < 0 or c.p_business[p] < lowest_tier:
        return False
    return ni.last < 0 or c.p_business[ni.last] == 2


cdef int32_t custodian_at(const Ctx* c, Py_ssize_t n, int32_t r) noexcept nogil:
    cdef Py_ssize_t s
    cdef int32_t p = -1
    for s in range(c.seg_ptr[n], c.seg_ptr[n + 1]):
        if c.seg_start[s] > r:
            break
        p = c.seg_party[s]
    return p


cdef bint commissioned(const Ctx* c, Py_ssize_t x) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(c.own_ptr[x], c.own_ptr[x + 1]):
        if ev_kind(c, c.order[c.own_rank[j]]) == K_COMMISSION:
            return True
    return False


cdef inline int distinct_push(int32_t* arr, int* n, int32_t v, int cap) noexcept nogil:
    """Add v to a small set; returns 1 when it was new."""
    cdef int i
    for i in range(n[0]):
        if arr[i] == v:
            return 0
    if n[0] < cap:
        arr[n[0]] = v
        n[0] += 1
    return 1


cdef inline void check_out(const Ctx* c, const Ev* x, const int32_t* delivered, int n_del,
                           int32_t* out_set, int* n_out_set, int64_t* t_out,
                           int64_t* t_out_last, int32_t* div_aux, Scratch* s,
                           int32_t sid) noexcept nogil:
    """A far observation outside the regions the item was delivered to: diversion."""
    cdef int32_t reg = region_of(c, x.lat, x.lon)
    cdef bint is_out = True
    cdef int kk
    if reg >= 0 and n_del > 0:
        for kk in range(n_del):
            if delivered[kk] == reg:
                is_out = False
                break
    if is_out:
        distinct_push(out_set, n_out_set, sid, 64)
        if t_out[0] < 0:
            t_out[0] = x.t
        t_out_last[0] = x.t
        div_aux[0] |= X_OUT_SCAN
        add_ev(c, s, A_DIVERSION, x.r)


cdef int analyse_node(const Ctx* c, Py_ssize_t n, Scratch* s, Out* o, int64_t* key_out,
                      uint8_t* obs_out) noexcept nogil:
    """Every rule on node ``n``: records into ``o``; its delivery-group rank and whether it
    has a located scan or claim into ``key_out``/``obs_out``."""
    cdef Py_ssize_t j0 = c.own_ptr[n], j1 = c.own_ptr[n + 1], m = j1 - j0, i, j
    cdef NodeInfo ni
    cdef Ev* E
    cdef Ev* x
    cdef Ev* y
    cdef int64_t e
    cdef int32_t r, p
    cdef int kk
    node_info(c, n, &ni)
    key_out[0] = ni.key_rank
    obs_out[0] = 0
    if m == 0:
        return 0
    if scratch_need(s, m) < 0:
        return -1
    memset(s.evn, 0, N_KINDS * sizeof(int32_t))
    E = s.ev
    for i in range(m):
        r = c.own_rank[j0 + i]
        e = c.order[r]
        x = &E[i]
        x.e = e
        x.r = r
        load_ev(c, e, x)
        if x.located and x.kind != K_SELL:
            obs_out[0] = 1

    cdef int32_t nid = <int32_t>n
    cdef double d, dt_h, ratio, sc, best, need_h
    cdef int64_t t_first, t_last, t_hit
    cdef int32_t aux
    cdef int cnt, cnt2, nd
    cdef bint far, dist_pair
    cdef int32_t reg
    cdef double hlat, hlon
    cdef bint has_home = ni.has_anchor
    cdef bint sold_home = False

    # -------- home: where it was (first) sold, else where its last holder is, else its
    # first observation (the screen uses the same definition). A last holder that passes
    # goods on (a maker, a wholesaler) with consumers scanning the item: the steps to the
    # shop were not recorded, and the first consumer observation is nearer the truth.
    for i in range(m):
        if E[i].kind == K_SELL:
            sold_home = True
            if valid_ll(E[i].lat, E[i].lon):
                ni.lat = E[i].lat
                ni.lon = E[i].lon
                has_home = True
            elif E[i].by >= 0 and valid_ll(c.p_lat[E[i].by], c.p_lon[E[i].by]):
                ni.lat = c.p_lat[E[i].by]
                ni.lon = c.p_lon[E[i].by]
                has_home = True
            break
    hlat = ni.lat
    hlon = ni.lon
    cdef double h0lat = hlat, h0lon = hlon
    cdef bint moved_home = False
    cdef int n_near, best_near = -1, n_seen = 0
    if has_home and not sold_home and ni.last >= 0 and c.p_business[ni.last] == 2:
        # where most of its consumer observations are (the first 64): a traveller's or a
        # copy's scan that happens to come first does not move the home
        for i in range(m):
            if not (E[i].located and (E[i].kind == K_SCAN or E[i].kind == K_CLAIM)):
                continue
            n_seen += 1
            if n_seen > 64:
                break
            n_near = 0
            for j in range(m):
                if E[j].located and (E[j].kind == K_SCAN or E[j].kind == K_CLAIM) and \
                        haversine(E[i].lat, E[i].lon, E[j].lat, E[j].lon) <= c.far_km:
                    n_near += 1
            if n_near > best_near:
                best_near = n_near
                hlat = E[i].lat
                hlon = E[i].lon
                moved_home = True
    if not has_home:
        for i in range(m):
            if E[i].located:
                hlat = E[i].lat
                hlon = E[i].lon
                has_home = True
                break

    # delivered regions: where its holders are, except the first one (the maker)
    cdef int32_t delivered[32]
    cdef int n_del = 0
    cdef Py_ssize_t sg
    cdef bint skip_first = False
    cdef int32_t rg
    if c.have_regions:
        for sg in range(c.seg_ptr[n], c.seg_ptr[n + 1]):
            p = c.seg_party[sg]
            if p < 0:
                continue
            if p != ni.first:
                skip_first = True
                break
        for sg in range(c.seg_ptr[n], c.seg_ptr[n + 1]):
            p = c.seg_party[sg]
            if p < 0 or (skip_first and p == ni.first):
                continue
            rg = c.p_region[p]
            if rg >= 0:
                distinct_push(delivered, &n_del, rg, 32)

    # -------- impossible travel: consecutive located events
    cdef int pairs = 0, dpairs = 0
    cdef int64_t t_pair = -1, t_dpair = -1, t_plast = -1
    cdef double best_ratio = 0.0
    j = -1
    for i in range(m):
        x = &E[i]
        if not x.located:
            continue
        if j >= 0:
            y = &E[j]
            d = haversine(y.lat, y.lon, x.lat, x.lon)
            if d > c.travel_km:
                # door to door: a fixed overhead plus the distance (less what the two
                # locations may be off by) at travel_kmh, against the time between them
                # widened by the clocks' disagreement
                dt_h = (<double>(x.t - y.t) + <double>c.skew_us) / 3.6e9
                need_h = c.travel_overhead_h + (d - 2.0 * c.location_km) / c.travel_kmh
                if d - 2.0 * c.location_km > c.travel_km and dt_h < need_h:
                    ratio = 1e9 if dt_h <= 0.0 else need_h / dt_h
                    dist_pair = x.by != y.by or x.by < 0
                    pairs += 1
                    if t_pair < 0:
                        t_pair = x.t
                    t_plast = x.t
                    if dist_pair:
                        dpairs += 1
                        if t_dpair < 0:
                            t_dpair = x.t
                        if ratio > best_ratio:
                            best_ratio = ratio
                    add_ev(c, s, A_TRAVEL, y.r)
                    add_ev(c, s, A_TRAVEL, x.r)
        j = i
    if pairs:
        if dpairs:
            sc = 0.6
            if best_ratio >= 3.0:
                sc += 0.1
            if dpairs >= 2:
                sc += 0.1
            if dpairs >= 4:
                sc += 0.1
            emit(c, o, s, nid, A_TRAVEL, sc, 0, t_dpair, t_plast)
        else:
            emit(c, o, s, nid, A_TRAVEL, 0.3, X_SAME_SCANNER, t_pair, t_plast)

    # -------- over_scanned and diversion (observations: scans and claims)
    cdef int n_far = 0, n_all = 0, n_out = 0
    cdef int64_t t_far1 = -1, t_far2 = -1, t_many = -1, t_weak = -1, t_far_last = -1
    cdef int64_t t_out = -1, t_out_last = -1, t_all_last = -1
    cdef int32_t anon = -2
    cdef int32_t sid
    cdef int cap_set = <int>(m if m < 4096 else 4096)
    cdef int32_t* far_set = s.a
    cdef int32_t* all_set = s.b
    cdef int n_far_set = 0, n_all_set = 0
    cdef int32_t out_set[64]
    cdef int n_out_set = 0
    cdef bint is_out
    cdef int32_t div_aux = 0
    cdef int visits = 0, n_far_obs = 0
    cdef bint away = False
    cdef int64_t t_visit2 = -1
    for i in range(m):
        x = &E[i]
        if not x.located or x.kind == K_SELL:
            continue
        sid = x.by
        if sid < 0:
            sid = anon
            anon -= 1
        if distinct_push(all_set, &n_all_set, sid, cap_set):
            n_all += 1
            if n_all == c.weak_scanners:
                t_weak = x.t
            if n_all == c.max_scanners:
                t_many = x.t
        t_all_last = x.t
        if not has_home:
            continue
        d = haversine(hlat, hlon, x.lat, x.lon)
        far = d > c.far_km
        if not far:
            away = False
            if not moved_home or haversine(h0lat, h0lon, x.lat, x.lon) <= c.far_km:
                continue
            # far from its last holder only: diversion may apply, not over_scanned
            check_out(c, x, delivered, n_del, out_set, &n_out_set, &t_out, &t_out_last,
                      &div_aux, s, sid)
            continue
        n_far_obs += 1
        if not away:
            away = True
            visits += 1
            if visits == 2:
                t_visit2 = x.t
        if distinct_push(far_set, &n_far_set, sid, cap_set):
            n_far += 1
            if n_far == 1:
                t_far1 = x.t
            if n_far == c.far_scanners:
                t_far2 = x.t
        t_far_last = x.t
        add_ev(c, s, A_OVER, x.r)
        check_out(c, x, delivered, n_del, out_set, &n_out_set, &t_out, &t_out_last,
                  &div_aux, s, sid)
    n_out = n_out_set
    best = 0.0
    aux = 0
    t_hit = -1
    if n_far >= c.far_scanners:
        sc = 0.6 + 0.08 * (n_far - c.far_scanners)
        if sc > 0.95:
            sc = 0.95
        best = sc
        aux = X_FAR_SCANNERS
        t_hit = t_far2
    if n_all >= c.max_scanners:
        sc = 0.55 + 0.03 * (n_all - c.max_scanners)
        if sc > 0.95:
            sc = 0.95
        if sc > best:
            best = sc
            t_hit = t_many
        aux |= X_MANY_SCANNERS
    if visits >= 2 and n_far_obs >= 2:
        # far from home, back home, far again: a second population of owners (copies)
        sc = 0.65 + 0.05 * (visits - 2)
        if sc > 0.9:
            sc = 0.9
        if sc > best:
            best = sc
            t_hit = t_visit2
        aux |= X_FAR_VISITS
    if best == 0.0:
        if n_far >= 1:
            best = 0.25
            aux = X_FAR_SCANNERS
            t_hit = t_far1
        elif n_all >= c.weak_scanners:
            best = 0.3
            aux = X_MANY_SCANNERS
            t_hit = t_weak
    if best > 0.0:
        if aux & X_MANY_SCANNERS and s.evn[A_OVER] == 0:
            for i in range(m):
                if E[i].located and E[i].kind != K_SELL:
                    add_ev(c, s, A_OVER, E[i].r)
        emit(c, o, s, nid, A_OVER, best,
             aux, t_hit, t_far_last if t_far_last > t_all_last else t_all_last)

    # -------- sales, listings, claims by whom; lifecycle
    cdef int32_t u_aux = 0
    cdef double u_best = 0.0
    cdef int64_t t_u = -1, t_u_last = -1, t_uw = -1
    cdef int32_t u_parties[16]
    cdef int n_u_parties = 0
    cdef int32_t listers[64]
    cdef int n_listers = 0
    cdef int64_t t_dup = -1, t_list_last = -1
    cdef bint list_unauth = False
    cdef bint auth
    cdef int64_t t_sale_out = -1
    cdef int32_t sellers[16]
    cdef int n_sellers = 0
    cdef bint gap_sale = False
    # lifecycle
    cdef bint decomm = False, claimed = False, locked = False, sold_before = False
    cdef uint8_t reason = 0
    cdef int32_t claimant = -1
    cdef int wrong = 0
    cdef int64_t t_lock = -1, t_wrong1 = -1, t_lock_last = -1
    cdef double i_best = 0.0, i_sc
    cdef int64_t t_i = -1, t_i_last = -1, t_iw = -1
    cdef int32_t i_aux = 0
    cdef uint8_t k
    for i in range(m):
        x = &E[i]
        k = x.kind
        p = x.by
        # -- who sells, lists, claims
        if k == K_SELL or k == K_LIST or (k == K_CLAIM and p >= 0 and c.p_business[p]):
            if p >= 0:
                auth = authorized(c, n, p, x.r)
                if k == K_SELL:
                    distinct_push(sellers, &n_sellers, p, 16)
                if not auth and (k == K_SELL or k == K_LIST) and chain_gap(c, &ni, p):
                    # a gap in the chain is no proof: weak unless another shop sells it too
                    u_aux |= X_U_GAP
                    if k == K_SELL:
                        gap_sale = True
                    if u_best < 0.35:
                        u_best = 0.35
                    if t_uw < 0:
                        t_uw = x.t
                    t_u_last = x.t if x.t > t_u_last else t_u_last
                    add_ev(c, s, A_UNAUTH, x.r)
                elif not auth:
                    sc = 0.9 if k == K_SELL else (0.8 if k == K_LIST else 0.6)
                    u_aux |= X_U_SELL if k == K_SELL else (X_U_LIST if k == K_LIST else X_U_CLAIM)
                    if distinct_push(u_parties, &n_u_parties, p, 16) and n_u_parties == 2:
                        sc += 0.05
                    if sc > u_best:
                        u_best = sc
                    if t_u < 0:
                        t_u = x.t
                    t_u_last = x.t
                    add_ev(c, s, A_UNAUTH, x.r)
                    if k == K_LIST:
                        list_unauth = True
                    if k == K_SELL and c.have_regions and n_del > 0:
                        rg = c.p_region[p]
                        if rg < 0 and x.located:
                            rg = region_of(c, x.lat, x.lon)
                        if rg != -2:
                            is_out = True
                            for kk in range(n_del):
                                if delivered[kk] == rg:
                                    is_out = False
                                    break
                            if is_out:
                                div_aux |= X_OUT_SALE
                                if t_sale_out < 0:
                                    t_sale_out = x.t
                                if t_out < 0 or x.t < t_out:
                                    t_out = x.t
                                if x.t > t_out_last:
                                    t_out_last = x.t
                                add_ev(c, s, A_DIVERSION, x.r)
                elif k == K_LIST and custodian_at(c, n, x.r) != p and \
                        not shipped_to(c, n, p, x.r):
                    u_aux |= X_U_FORMER
                    if u_best < 0.3:
                        u_best = 0.3
                    if t_uw < 0:
                        t_uw = x.t
                    t_u_last = x.t if x.t > t_u_last else t_u_last
                    add_ev(c, s, A_UNAUTH, x.r)
        if k == K_LIST:
            if p >= 0 and distinct_push(listers, &n_listers, p, 64):
                if n_listers == 2:
                    t_dup = x.t
                add_ev(c, s, A_DUPLICATE, x.r)
            t_list_last = x.t
        # -- lifecycle: decommissioning, reactivation, claims
        i_sc = 0.0
        if k == K_DECOMMISSION:
            if not decomm:
                decomm = True
                reason = x.detail
                add_ev(c, s, A_INACTIVE, x.r)
            continue
        if k == K_REACTIVATE:
            decomm = False
            continue
        if k == K_SELL:
            if not decomm and not claimed:
                sold_before = True
        if decomm:
            if reason == R_STOLEN:
                if k == K_SCAN:
                    i_sc = 0.8
                elif k != K_COMMISSION and k != K_OTHER and k != K_COMPLAINT:
                    i_sc = 0.9
            elif reason == R_RECALLED or reason == R_DESTROYED or reason == R_EXPIRED \
                    or reason == R_DAMAGED:
                if k == K_SELL or k == K_LIST or k == K_SHIP or k == K_RECEIVE or \
                        k == K_AGGREGATE:
                    i_sc = 0.85
                elif k == K_SCAN or k == K_CLAIM:
                    i_sc = 0.1 if sold_before else 0.55
            elif reason == D_NONE:
                if k == K_SELL or k == K_LIST or k == K_SHIP or k == K_RECEIVE:
                    i_sc = 0.7
                elif k == K_SCAN or k == K_CLAIM:
                    i_sc = 0.3
            else:  # sold, exported, sample, dispensed, other
                if k == K_SELL or k == K_LIST:
                    i_sc = 0.6
            if i_sc > 0.0:
                i_aux = (i_aux & X_I_CLAIMED) | reason
        elif claimed:
            if k == K_CLAIM:
                if p >= 0 and p == claimant:
                    i_sc = 0.2
                else:
                    i_sc = 0.85
            elif k == K_SELL or k == K_LIST:
                i_sc = 0.6
            if i_sc > 0.0:
                i_aux |= X_I_CLAIMED
        elif k == K_CLAIM:
            if locked:
                add_ev(c, s, A_LOCKOUT, x.r)
                t_lock_last = x.t
            elif x.detail == D_OK:
                claimed = True
                claimant = p
            elif x.detail == D_WRONG_PIN or x.detail == D_LOCKED:
                if x.detail == D_WRONG_PIN:
                    wrong += 1
                if t_wrong1 < 0:
                    t_wrong1 = x.t
                t_lock_last = x.t
                add_ev(c, s, A_LOCKOUT, x.r)
                if wrong >= c.max_wrong or x.detail == D_LOCKED:
                    locked = True
                    t_lock = x.t
        if i_sc > 0.0:
            add_ev(c, s, A_INACTIVE, x.r)
            if i_sc >= 0.5 and t_i < 0:
                t_i = x.t
            if t_iw < 0:
                t_iw = x.t
            t_i_last = x.t
            if i_sc > i_best:
                i_best = i_sc
    if gap_sale and n_sellers >= 2 and u_best < 0.9:
        u_best = 0.9  # sold by two shops: one of them sold a copy
        if t_u < 0:
            t_u = t_uw
    if u_best > 0.0:
        emit(c, o, s, nid, A_UNAUTH, u_best, u_aux, t_u if t_u >= 0 else t_uw, t_u_last)
    if n_listers >= 2:
        sc = 0.6 + 0.1 * (n_listers - 2)
        if list_unauth:
            sc += 0.1
        if sc > 0.95:
            sc = 0.95
        emit(c, o, s, nid, A_DUPLICATE, sc, n_listers, t_dup, t_list_last)
    if i_best > 0.0:
        emit(c, o, s, nid, A_INACTIVE, i_best, i_aux, t_i if t_i >= 0 else t_iw, t_i_last)
    if locked:
        emit(c, o, s, nid, A_LOCKOUT, 0.8, wrong, t_lock, t_lock_last)
    elif wrong >= 3:
        # a buyer mistypes once or twice; three wrong PINs from a phone are guessing
        emit(c, o, s, nid, A_LOCKOUT, 0.55, wrong, t_wrong1, t_lock_last)
    if div_aux:
        if div_aux & X_OUT_SALE:
            sc = 0.55
        elif n_out >= 2:
            sc = 0.4
        else:
            sc = 0.2
        emit(c, o, s, nid, A_DIVERSION, sc, div_aux | (n_out << 8), t_out, t_out_last)

    # -------- out of order
    cdef int32_t o_aux = 0
    cdef double o_best = 0.0
    cdef int64_t t_o = -1, t_o_last = -1, t_c = -1
    cdef Py_ssize_t ic = -1, i2
    cdef int32_t who
    for i in range(m):
        if E[i].kind == K_COMMISSION:
            ic = i
            t_c = E[i].t
            break
    if ic >= 0:
        for i in range(ic):
            if E[i].t < t_c - c.skew_us and E[i].kind != K_OTHER \
                    and E[i].kind != K_COMPLAINT:
                o_aux |= X_O_BEFORE_COMMISSION
                if o_best < 0.7:
                    o_best = 0.7
                if t_o < 0 or E[i].t < t_o:
                    t_o = E[i].t
                if E[i].t > t_o_last:
                    t_o_last = E[i].t
                add_ev(c, s, A_ORDER, E[i].r)
        if o_aux:
            add_ev(c, s, A_ORDER, E[ic].r)
    elif not c.node_item[n]:
        # never commissioned here: packed into a container that was?
        for i in range(m):
            x = &E[i]
            if x.kind == K_AGGREGATE and c.ev_parent[x.e] >= 0 and c.ev_parent[x.e] != n \
                    and commissioned(c, c.ev_parent[x.e]):
                o_aux |= X_O_UNKNOWN_ITEM
                if o_best < 0.8:
                    o_best = 0.8
                if t_o < 0 or x.t < t_o:
                    t_o = x.t
                if x.t > t_o_last:
                    t_o_last = x.t
                add_ev(c, s, A_ORDER, x.r)
                break
    if ni.reentry >= 0:
        # back in the supply chain after a sale to a consumer
        r = c.seg_start[ni.reentry]
        t_hit = c.ev_time[c.order[r]]
        i2 = -1
        for sg in range(c.seg_ptr[n], ni.reentry):
            if c.seg_party[sg] == -1:
                i2 = sg
        if i2 >= 0 and t_hit - c.ev_time[c.order[c.seg_start[i2]]] > c.skew_us:
            o_aux |= X_O_AFTER_SALE
            if o_best < 0.75:
                o_best = 0.75
            if t_o < 0 or t_hit < t_o:
                t_o = t_hit
            if t_hit > t_o_last:
                t_o_last = t_hit
            add_ev(c, s, A_ORDER, c.seg_start[i2])
            add_ev(c, s, A_ORDER, r)
    for i in range(m):
        x = &E[i]
        if x.kind == K_RECEIVE:
            who = x.by if x.by >= 0 else x.dst
            if who < 0:
                continue
            # a SHIP to `who` recorded before (or with) this receipt?
            cnt = 0
            i2 = -1
            for j in range(m):
                y = &E[j]
                if y.kind == K_SHIP and y.dst == who:
                    if y.t <= x.t + c.skew_us:
                        cnt = 1
                        break
                    if i2 < 0:
                        i2 = j
            if cnt == 0 and i2 >= 0:
                o_aux |= X_O_RECEIVE_BEFORE_SHIP
                if o_best < 0.75:
                    o_best = 0.75
                t_hit = E[i2].t
                if t_o < 0 or t_hit < t_o:
                    t_o = t_hit
                if t_hit > t_o_last:
                    t_o_last = t_hit
                add_ev(c, s, A_ORDER, x.r)
                add_ev(c, s, A_ORDER, E[i2].r)
        elif (x.kind == K_AGGREGATE or x.kind == K_DISAGGREGATE) and x.by >= 0:
            if x.by != ni.first and x.by != ni.last and not authorized(c, n, x.by, x.r) \
                    and c.p_business[x.by] < 2:
                # a known maker, wholesaler or shop packing goods of the brand: with reads
                # going missing that is no proof; others (carriers, unknown parties) act
                o_aux |= X_O_OUTSIDER
                if o_best < 0.65:
                    o_best = 0.65
                if t_o < 0 or x.t < t_o:
                    t_o = x.t
                if x.t > t_o_last:
                    t_o_last = x.t
                add_ev(c, s, A_ORDER, x.r)
    if o_best > 0.0:
        emit(c, o, s, nid, A_ORDER, o_best, o_aux, t_o, t_o_last)
    return -1 if o.failed else 0


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
                or p_business.shape[0] != p_lat.shape[0]):
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
