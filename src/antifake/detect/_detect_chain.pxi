# Detection kernels (included by _detect.pyx): the per-node scratch space, how a record is
# emitted, and questions about a node's custody chain (in it, shipped to, authorised, gaps).

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


cdef inline bint contains(const int32_t* arr, int n, int32_t v) noexcept nogil:
    """Whether v is among the first n of a small set."""
    cdef int i
    for i in range(n):
        if arr[i] == v:
            return True
    return False


cdef inline int distinct_push(int32_t* arr, int* n, int32_t v, int cap) noexcept nogil:
    """Add v to a small set; returns 1 when it was new."""
    if contains(arr, n[0], v):
        return 0
    if n[0] < cap:
        arr[n[0]] = v
        n[0] += 1
    return 1


cdef void container_trail(const Ctx* c, Py_ssize_t n, int32_t* regions, int* n_reg, int cap,
                          int32_t* shop) noexcept nogil:
    """Walk node ``n``'s own events and, for each container it was inside (every level), that
    container's events during the stay. ``regions`` (NULL: not wanted): add the region of the
    destination of every SHIP (goods are delivered where they are shipped to, the receipt
    perhaps never recorded). ``shop`` (NULL: not wanted): the located shop whose unpacking
    (of it, or of a container while it was inside) comes last, -1 none: that shop had it."""
    cdef int32_t st_node[MAX_STACK]
    cdef int32_t st_lo[MAX_STACK]
    cdef int32_t st_hi[MAX_STACK]
    cdef int sp = 1
    cdef int32_t x, lo, hi, r, a, b, rg, p
    cdef int32_t shop_rank = -1
    cdef Py_ssize_t j, s
    cdef int64_t e
    cdef uint8_t k
    if shop != NULL:
        shop[0] = -1
    st_node[0] = <int32_t>n
    st_lo[0] = 0
    st_hi[0] = 2147483647
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
            k = ev_kind(c, e)
            if k == K_SHIP and regions != NULL and c.ev_dst[e] >= 0:
                rg = c.p_region[c.ev_dst[e]]
                if rg >= 0:
                    distinct_push(regions, n_reg, rg, cap)
            elif k == K_DISAGGREGATE and shop != NULL and r > shop_rank:
                p = c.ev_by[e]
                if p >= 0 and c.p_business[p] == 3 and valid_ll(c.p_lat[p], c.p_lon[p]):
                    shop[0] = p
                    shop_rank = r
        for s in range(c.lk_ptr[x], c.lk_ptr[x + 1]):
            a = c.lk_start[s] if c.lk_start[s] > lo else lo
            b = c.lk_end[s] if c.lk_end[s] < hi else hi
            if a < b and sp < MAX_STACK:
                st_node[sp] = c.lk_parent[s]
                st_lo[sp] = a
                st_hi[sp] = b
                sp += 1


cdef bint beyond_reach(const Ctx* c, int32_t rg, const int32_t* regions,
                       int n_reg) noexcept nogil:
    """Whether region ``rg``'s centre is farther than ``gap_reach_km`` from the centre of each
    of ``regions`` (False when any centre is unknown or no region is given)."""
    cdef int i
    cdef int32_t r
    if rg < 0 or rg >= c.n_regions or n_reg <= 0 or c.r_lat == NULL:
        return False
    if not valid_ll(c.r_lat[rg], c.r_lon[rg]):
        return False
    for i in range(n_reg):
        r = regions[i]
        if r < 0 or r >= c.n_regions or not valid_ll(c.r_lat[r], c.r_lon[r]):
            return False
        if haversine(c.r_lat[rg], c.r_lon[rg], c.r_lat[r], c.r_lon[r]) <= c.gap_reach_km:
            return False
    return True


# evidence of a node outside the regions it was delivered to (diversion)
cdef struct DivState:
    int32_t aux             # X_OUT_* bits
    int64_t t_out           # first and last such event
    int64_t t_out_last
    int32_t out_set[64]     # distinct scanners outside
    int n_out_set


cdef inline void mark_out(const Ctx* c, const Ev* x, DivState* dv, Scratch* s,
                          int32_t bit) noexcept nogil:
    dv.aux |= bit
    if dv.t_out < 0 or x.t < dv.t_out:
        dv.t_out = x.t
    if x.t > dv.t_out_last:
        dv.t_out_last = x.t
    add_ev(c, s, A_DIVERSION, x.r)


cdef inline void check_out(const Ctx* c, const Ev* x, const int32_t* delivered, int n_del,
                           DivState* dv, Scratch* s, int32_t sid) noexcept nogil:
    """A far observation outside the regions the item was delivered to: diversion."""
    cdef int32_t reg = region_of(c, x.lat, x.lon)
    if reg >= 0 and n_del > 0 and contains(delivered, n_del, reg):
        return
    distinct_push(dv.out_set, &dv.n_out_set, sid, 64)
    mark_out(c, x, dv, s, X_OUT_SCAN)
