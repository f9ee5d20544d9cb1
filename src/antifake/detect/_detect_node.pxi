# Detection kernels (included by _detect.pyx): per-node facts from the custody segments and
# the packed event record, shared by screen and analyse.

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
