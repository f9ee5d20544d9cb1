# Detection kernels (included by _detect.pyx): the screen, which partitions the incidence rows
# into node buckets (once per snapshot) and marks the candidates any rule could fire on.

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


cdef bint shipped_elsewhere(const Ctx* c, Py_ssize_t n, int32_t holder) noexcept nogil:
    """Whether the node, or a container it was in, was shipped to a region other than its
    ``holder``'s (with no receipt recorded, custody still names the holder)."""
    cdef int32_t regs[8]
    cdef int n_reg = 0, i
    if not c.have_regions or c.p_region[holder] < 0:
        return False
    container_trail(c, n, regs, &n_reg, 8, NULL)
    for i in range(n_reg):
        if regs[i] != c.p_region[holder]:
            return True
    return False


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
        if (st.flags & (F_CAND | F_OBSERVED)) == F_OBSERVED and st.last >= 0 and \
                st.last == st.first and shipped_elsewhere(c, n, st.last):
            st.flags |= F_CAND  # seen by consumers, its maker's shipment the last record
        cand[n] = 1 if (st.flags & F_CAND) else 0
        obs[n] = 1 if (st.flags & F_OBSERVED) else 0
