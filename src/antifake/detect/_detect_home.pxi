# Detection kernels (included by _detect.pyx): where a node lives as the rules see it (its
# home) and the regions its recorded chain delivered it to.

cdef struct Home:
    double lat              # home as the rules see it
    double lon
    double lat0             # the recorded home (before moving to where consumers scan it)
    double lon0
    bint has                # a home (else none located at all)
    bint had                # a home before falling back on the first observation
    bint sold               # where it was first sold
    bint shop               # the shop that unpacked it (the recorded custody stops upstream)
    bint moved              # where most consumer observations are (no sure home)
    bint sure               # where it was sold, or the shop holding or unpacking it
    bint shipped_away       # shipped by its maker, no later holder on record
    int32_t shop_party      # the shop that unpacked it, -1 none
    int32_t delivered[32]   # the regions it was delivered to
    int n_del
    int n_chain             # of those, the first ones: where its recorded chain took it past
                            # its maker


cdef void node_home(const Ctx* c, Py_ssize_t n, const Ev* E, Py_ssize_t m, NodeInfo* ni,
                    Home* h) noexcept nogil:
    """Node ``n``'s home and delivered regions (``E``: its ``m`` events in time order; a
    first sale's place goes into ``ni``)."""
    cdef Py_ssize_t i, j, sg
    cdef int32_t p, rg
    cdef int n_near, best_near = -1, n_seen = 0, n_mine, best_mine = -1
    cdef bint skip_first = False
    h.has = ni.has_anchor
    h.sold = False
    h.shop = False
    h.moved = False
    h.shipped_away = False
    h.shop_party = -1
    h.n_del = 0
    h.n_chain = 0
    # home: where it was (first) sold, else where its last holder is, else its first
    # observation (the screen uses the same definition). A last holder that passes
    # goods on (a maker, a wholesaler): the steps to the shop were not recorded; a shop
    # that unpacked it later had it (its home), else the consumers' observations are nearer
    # the truth.
    for i in range(m):
        if E[i].kind == K_SELL:
            h.sold = True
            if valid_ll(E[i].lat, E[i].lon):
                ni.lat = E[i].lat
                ni.lon = E[i].lon
                h.has = True
            elif E[i].by >= 0 and valid_ll(c.p_lat[E[i].by], c.p_lon[E[i].by]):
                ni.lat = c.p_lat[E[i].by]
                ni.lon = c.p_lon[E[i].by]
                h.has = True
            break
    h.lat = h.lat0 = ni.lat
    h.lon = h.lon0 = ni.lon
    # one walk of it and its containers: where it was shipped to (its delivered regions,
    # below) and, its recorded custody stopping at a maker or wholesaler (the records of its
    # way out of their hands lost), the shop that unpacked it or a container with it inside
    cdef bint upstream = ni.last >= 0 and c.p_business[ni.last] == 2
    if c.have_regions or upstream:
        container_trail(c, n, <int32_t*>h.delivered if c.have_regions else <int32_t*>NULL,
                        &h.n_del, 32, &h.shop_party if upstream else <int32_t*>NULL)
    if upstream and h.shop_party >= 0 and not h.sold:
        h.lat = h.lat0 = c.p_lat[h.shop_party]
        h.lon = h.lon0 = c.p_lon[h.shop_party]
        h.has = h.shop = True
    if h.has and not h.sold and not h.shop and upstream:
        # where most of its consumer observations are (the first 64): a traveller's or a
        # copy's scan that happens to come first does not move the home. On a tie, where the
        # phone that acted on it most often scanned it: an owner keeps their phone.
        for i in range(m):
            if not (E[i].located and (E[i].kind == K_SCAN or E[i].kind == K_CLAIM)):
                continue
            n_seen += 1
            if n_seen > 64:
                break
            n_near = 0
            n_mine = 0
            for j in range(m):
                if not (E[j].kind == K_SCAN or E[j].kind == K_CLAIM):
                    continue
                if E[j].located and haversine(E[i].lat, E[i].lon, E[j].lat, E[j].lon) <= \
                        c.far_km:
                    n_near += 1
                if E[i].by >= 0 and E[j].by == E[i].by:
                    n_mine += 1
            if n_near > best_near or (n_near == best_near and n_mine > best_mine):
                best_near = n_near
                best_mine = n_mine
                h.lat = E[i].lat
                h.lon = E[i].lon
                h.moved = True
    h.had = h.has  # (before falling back on the first observation)
    h.sure = h.has and (h.sold or h.shop or (ni.last >= 0 and c.p_business[ni.last] == 3))
    if not h.has:
        for i in range(m):
            if E[i].located:
                h.lat = E[i].lat
                h.lon = E[i].lon
                h.has = True
                break

    # delivered regions: where its holders are, except the first one (the maker). Shipped by
    # its maker and no later holder recorded: observations near the maker (its home by
    # default) are checked against where it was shipped to
    if c.have_regions:
        # where it was shipped to (the receipt perhaps never recorded): delivered there, and
        # once shipped it has left its maker, whose region no longer counts
        h.shipped_away = h.n_del > 0
        for sg in range(c.seg_ptr[n], c.seg_ptr[n + 1]):
            p = c.seg_party[sg]
            if p < 0:
                continue
            if p != ni.first:
                skip_first = True
                h.shipped_away = False  # a later holder on record: its home is theirs
                break
        skip_first = skip_first or h.shipped_away
        for sg in range(c.seg_ptr[n], c.seg_ptr[n + 1]):
            p = c.seg_party[sg]
            if p < 0 or (skip_first and p == ni.first):
                continue
            rg = c.p_region[p]
            if rg >= 0:
                distinct_push(h.delivered, &h.n_del, rg, 32)
        # the regions its recorded chain took it to past its maker (a maker serves anywhere)
        h.n_chain = h.n_del if skip_first else 0
        # the shops that sold it past a gap in the records (the steps to them not recorded):
        # delivered there too, not diverted
        for i in range(m):
            p = E[i].by
            if E[i].kind == K_SELL and p >= 0 and not in_chain(c, n, p) and \
                    chain_gap(c, ni, p):
                rg = c.p_region[p]
                if rg >= 0:
                    distinct_push(h.delivered, &h.n_del, rg, 32)
