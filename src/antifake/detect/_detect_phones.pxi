# Detection kernels (included by _detect.pyx): phones' home regions, and the rules that use
# them (a far scan by the item's own phone is its owner travelling; by a phone that lives far
# away, close in time to the owner's scans or between them, a copy).

DEF PHONE_DENSE_MAX = 1 << 25   # party x region counters beyond this: counted by sorting


def phone_regions(const uint8_t[::1] ev_kind, const int32_t[::1] ev_by,
                  const double[::1] ev_lat, const double[::1] ev_lon,
                  const uint8_t[::1] party_business, const int16_t[::1] grid, dict g):
    """Per party: the region where most of its located scans and claims are (a phone's home;
    ties go to the lower region id), -1 for businesses, parties with no located scan or claim
    in a region, and when no region is known. ``g``: the grid's ``grid_nlat``,
    ``grid_nlon``, ``grid_lat0``, ``grid_lon0``, ``grid_inv``."""
    cdef Py_ssize_t ne = ev_kind.shape[0], n_p = party_business.shape[0], i, e
    if ev_by.shape[0] != ne or ev_lat.shape[0] != ne or ev_lon.shape[0] != ne:
        raise ValueError("phone_regions: event arrays of inconsistent lengths")
    out = np.full(n_p, -1, dtype=np.int32)
    if ne == 0 or n_p == 0 or grid.shape[0] == 0:
        return out
    cdef int nlat = int(g["grid_nlat"]), nlon = int(g["grid_nlon"])
    if <Py_ssize_t>nlat * nlon != grid.shape[0]:
        raise ValueError("phone_regions: region grid of the wrong size")
    cdef double lat0 = float(g["grid_lat0"]), lon0 = float(g["grid_lon0"])
    cdef double inv = float(g["grid_inv"])
    cdef int n_reg = int(np.max(np.asarray(grid))) + 1
    if n_reg <= 0:
        return out
    cdef int32_t[::1] res = out
    cdef int32_t p, r, best, best_n
    cdef uint8_t k
    cdef double la, lo
    cdef const int16_t* gp = &grid[0]
    cdef Py_ssize_t cells = <Py_ssize_t>n_p * n_reg
    cdef int32_t[::1] cnt
    cdef int32_t* row
    # the region of each located scan or claim by a consumer (-1: none)
    ev_reg = np.full(ne, -1, dtype=np.int32)
    cdef int32_t[::1] er = ev_reg
    with nogil:
        for e in range(ne):
            k = ev_kind[e]
            p = ev_by[e]
            if (k != K_SCAN and k != K_CLAIM) or p < 0 or p >= n_p or party_business[p] != 0:
                continue
            la = ev_lat[e]
            lo = ev_lon[e]
            if not valid_ll(la, lo):
                continue
            er[e] = grid_region(gp, nlat, nlon, lat0, lon0, inv, la, lo)
    if cells <= PHONE_DENSE_MAX:
        counts = np.zeros(cells, dtype=np.int32)
        cnt = counts
        with nogil:
            for e in range(ne):
                if er[e] >= 0:
                    cnt[<Py_ssize_t>ev_by[e] * n_reg + er[e]] += 1
            for i in range(n_p):
                row = &cnt[i * n_reg]
                best = -1
                best_n = 0
                for r in range(n_reg):
                    if row[r] > best_n:
                        best_n = row[r]
                        best = r
                res[i] = best
        return out
    # many parties and regions: count (party, region) pairs by sorting
    sel = np.flatnonzero(ev_reg >= 0)
    key = np.asarray(ev_by)[sel].astype(np.int64) * n_reg + ev_reg[sel]
    uk, n = np.unique(key, return_counts=True)
    party = uk // n_reg
    reg = (uk % n_reg).astype(np.int32)
    o = np.lexsort((reg, -n, party))
    party, reg = party[o], reg[o]
    first = np.r_[True, np.diff(party) != 0] if len(party) else np.zeros(0, bool)
    out[party[first]] = reg[first]
    return out


cdef enum:
    PH_NONE = 0     # not a consumer's scan or claim, or its phone's home is unknown
    PH_HOME = 1     # by a phone living at the item's home, at home or with no location
    PH_FAR = 2      # by a phone living far from the item's home, located far from it
    PH_AWAY = 3     # by a phone living at the item's home, located far from it (travelling)


cdef uint64_t phone_residents(const Ctx* c, const Ev* E, Py_ssize_t m, int32_t* regs
                               ) noexcept nogil:
    """For each of a node's events: the home region of its phone when it is a consumer's scan
    or claim located where that phone lives (within ``phone_home_km`` of its region's
    centre), else -1. Returns the mask of those regions (0 beyond 64 regions)."""
    cdef Py_ssize_t i
    cdef int32_t r
    cdef uint64_t mask = 0
    for i in range(m):
        regs[i] = -1
        if not E[i].located or not consumer_act(c, &E[i]):
            continue
        r = c.p_home[E[i].by]
        if r < 0 or r >= c.n_regions:
            continue
        if haversine(E[i].lat, E[i].lon, c.r_lat[r], c.r_lon[r]) <= c.phone_home_km:
            regs[i] = r
            if r < 64:
                mask |= (<uint64_t>1) << <uint64_t>r
    return mask


cdef inline int64_t phone_slack_us(const Ctx* c) noexcept nogil:
    """How far a phone's clock may be off (us): ``phone_clock_h``, at least ``clock_skew_s``."""
    cdef int64_t us = <int64_t>(c.phone_clock_h * 3.6e9)
    return us if us > c.skew_us else c.skew_us


cdef void phone_flags(const Ctx* c, const Ev* E, Py_ssize_t m, double hlat, double hlon,
                      uint8_t* out) noexcept nogil:
    """For each of a node's events (time order): PH_* as seen from its home (hlat, hlon). A
    phone lives at the home when its home region's centre is within ``phone_home_km``."""
    cdef Py_ssize_t i
    cdef int32_t r
    cdef double dh
    cdef bint far_obs
    for i in range(m):
        out[i] = PH_NONE
        if not consumer_act(c, &E[i]):
            continue
        r = c.p_home[E[i].by]
        if r < 0 or r >= c.n_regions:
            continue
        dh = haversine(hlat, hlon, c.r_lat[r], c.r_lon[r])
        far_obs = E[i].located and haversine(hlat, hlon, E[i].lat, E[i].lon) > c.far_km
        if dh <= c.phone_home_km:
            out[i] = PH_AWAY if far_obs else PH_HOME
        elif dh > c.phone_home_km and far_obs:
            out[i] = PH_FAR


cdef Py_ssize_t phone_before_far(const Ctx* c, const Ev* E, Py_ssize_t m, double lat,
                                 double lon, int64_t before) noexcept nogil:
    """The first of a node's scans and claims (time order) before ``before`` by a consumer's
    phone living farther than ``phone_home_km`` from (lat, lon); -1 none."""
    cdef Py_ssize_t i
    cdef int32_t r
    if not valid_ll(lat, lon):
        return -1
    for i in range(m):
        if E[i].t >= before:
            break
        if not consumer_act(c, &E[i]):
            continue
        r = c.p_home[E[i].by]
        if r < 0 or r >= c.n_regions:
            continue
        if haversine(lat, lon, c.r_lat[r], c.r_lon[r]) > c.phone_home_km:
            return i
    return -1


cdef int two_homes(const Ctx* c, const Ev* E, Py_ssize_t m, int64_t gap, const int32_t* regs,
                   uint64_t mask, Py_ssize_t* hit) noexcept nogil:
    """Scans or claims by phones living in regions far apart, each at home (``regs``: see
    `phone_residents`; ``mask``: their regions), interleaved: one region's phones, then the
    other's more than ``gap`` later, then the first's again more than ``gap`` after that (two
    populations of owners, each at home: copies). Returns how many middle scans have such
    neighbours; ``hit[0..2]``: the first triple's event indices."""
    cdef Py_ssize_t i, j, k, found = 0
    cdef int32_t r
    cdef uint64_t before, after, far
    cdef bint any_far = False
    if c.reg_far == NULL or mask == 0:
        return 0
    for r in range(c.n_regions):
        if (mask >> <uint64_t>r) & 1 and c.reg_far[r] & mask:
            any_far = True
            break
    if not any_far:
        return 0
    for j in range(m):
        if regs[j] < 0:
            continue
        far = c.reg_far[regs[j]]
        before = 0
        after = 0
        for i in range(m):
            if regs[i] < 0 or not (far >> <uint64_t>regs[i]) & 1:
                continue
            if E[i].t < E[j].t - gap:
                before |= (<uint64_t>1) << <uint64_t>regs[i]
            elif E[i].t > E[j].t + gap:
                after |= (<uint64_t>1) << <uint64_t>regs[i]
        if before & after:
            if found == 0:
                for i in range(m):
                    if regs[i] >= 0 and E[i].t < E[j].t - gap and \
                            (before & after) >> <uint64_t>regs[i] & 1:
                        hit[0] = i
                for k in range(m - 1, -1, -1):
                    if regs[k] >= 0 and E[k].t > E[j].t + gap and \
                            (before & after) >> <uint64_t>regs[k] & 1:
                        hit[2] = k
                hit[1] = j
            found += 1
    return <int>found
