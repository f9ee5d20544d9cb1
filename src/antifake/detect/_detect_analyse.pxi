# Detection kernels (included by _detect.pyx): analyse, every rule on one node. The rules on
# where it was seen (impossible_travel, over_scanned, diversion) are here; its home is
# `node_home`'s (_detect_home.pxi), the rules on what parties did `rule_acts`' and
# `rule_order`'s (_detect_acts.pxi).

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
    cdef int32_t r
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
    cdef int64_t t_hit
    cdef int32_t aux
    cdef bint far, dist_pair
    cdef Home h
    cdef DivState dv
    node_home(c, n, E, m, &ni, &h)
    dv.aux = 0
    dv.t_out = -1
    dv.t_out_last = -1
    dv.n_out_set = 0

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
    # a far observation and, too close in time to have come from home, a scan or claim with
    # no location by another device: that one was at home (where it was sold, or the shop
    # holding it), the other a copy. Weighed below a located pair.
    cdef int upairs = 0
    cdef int64_t t_upair = -1
    if h.sure and not dpairs and m <= 512:
        for i in range(m):
            x = &E[i]
            if not x.located or not (x.kind == K_SCAN or x.kind == K_CLAIM):
                continue
            d = haversine(h.lat0, h.lon0, x.lat, x.lon) - 2.0 * c.location_km
            if d <= c.travel_km:
                continue
            need_h = c.travel_overhead_h + d / c.travel_kmh
            for j in range(m):
                y = &E[j]
                if y.located or y.by < 0 or y.by == x.by or \
                        not (y.kind == K_SCAN or y.kind == K_CLAIM):
                    continue
                dt_h = (<double>(x.t - y.t if x.t > y.t else y.t - x.t) +
                        <double>c.skew_us) / 3.6e9
                if dt_h < need_h:
                    upairs += 1
                    if t_upair < 0 or (x.t if x.t > y.t else y.t) < t_upair:
                        t_upair = x.t if x.t > y.t else y.t
                    if x.t > t_plast:
                        t_plast = x.t
                    add_ev(c, s, A_TRAVEL, y.r)
                    add_ev(c, s, A_TRAVEL, x.r)
    # phones: a far scan or claim by a phone that lives in another region, too close in time
    # to a scan or claim by a phone living at home (at home, or giving no location) for the
    # trip plus what the far phone's clock may be off by: the owner's phone was at home, the
    # far one scanned a copy. The owner's own phone far away is a traveller, never counted.
    cdef uint8_t phf[512]
    cdef bint use_phones = c.p_home != NULL and h.has and m <= 512
    cdef int ppairs = 0
    cdef int64_t t_ppair = -1
    cdef double win_h
    if use_phones:
        # (a home moved to where most consumers scan it is no sure home: a far phone counts
        # there only close to, or between, scans of phones living at it)
        phone_flags(c, E, m, h.lat, h.lon, phf)
        for i in range(m):
            if phf[i] != PH_FAR:
                continue
            x = &E[i]
            d = haversine(h.lat, h.lon, x.lat, x.lon)
            win_h = c.travel_overhead_h + (d - 2.0 * c.location_km) / c.travel_kmh + \
                c.phone_clock_h
            for j in range(m):
                if phf[j] != PH_HOME:
                    continue
                y = &E[j]
                dt_h = <double>(x.t - y.t if x.t > y.t else y.t - x.t) / 3.6e9
                if dt_h < win_h:
                    ppairs += 1
                    t_hit = x.t if x.t > y.t else y.t
                    if t_ppair < 0 or t_hit < t_ppair:
                        t_ppair = t_hit
                    if t_hit > t_plast:
                        t_plast = t_hit
                    add_ev(c, s, A_TRAVEL, y.r)
                    add_ev(c, s, A_TRAVEL, x.r)
                    break
    if pairs or upairs or ppairs:
        if dpairs:
            sc = 0.6
            if best_ratio >= 3.0:
                sc += 0.1
            if dpairs >= 2:
                sc += 0.1
            if dpairs >= 4:
                sc += 0.1
            emit(c, o, s, nid, A_TRAVEL, sc, X_PHONES if ppairs else 0, t_dpair, t_plast)
        elif ppairs:
            emit(c, o, s, nid, A_TRAVEL, 0.7 if ppairs == 1 else 0.8,
                 X_PHONES | (X_UNLOCATED if upairs else 0), t_ppair, t_plast)
        elif upairs:
            emit(c, o, s, nid, A_TRAVEL, 0.55, X_UNLOCATED, t_upair, t_plast)
        else:
            emit(c, o, s, nid, A_TRAVEL, 0.3, X_SAME_SCANNER, t_pair, t_plast)

    # -------- over_scanned and diversion (observations: scans and claims)
    cdef int n_far = 0, n_all = 0
    cdef int64_t t_far1 = -1, t_far2 = -1, t_many = -1, t_weak = -1, t_far_last = -1
    cdef int64_t t_all_last = -1
    cdef int32_t anon = -2
    cdef int32_t sid
    cdef int cap_set = <int>(m if m < 4096 else 4096)
    cdef int32_t* far_set = s.a
    cdef int32_t* all_set = s.b
    cdef int n_far_set = 0, n_all_set = 0
    cdef int visits = 0, n_far_obs = 0, n_away = 0
    cdef int64_t t_away = -1
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
        if not h.has:
            continue
        d = haversine(h.lat, h.lon, x.lat, x.lon)
        far = d > c.far_km
        if not far:
            away = False
            if not (h.shipped_away and not h.sold) and \
                    (not h.moved or haversine(h.lat0, h.lon0, x.lat, x.lon) <= c.far_km):
                continue
            # far from its last holder only, or near the maker that shipped it away:
            # diversion may apply, not over_scanned
            check_out(c, x, h.delivered, h.n_del, &dv, s, sid)
            continue
        if use_phones and phf[i] == PH_AWAY:
            # the owner's phone (or a neighbour's) away from home: a traveller, not another
            # owner (a weak signal at most)
            add_ev(c, s, A_OVER, x.r)
            n_away += 1
            if t_away < 0:
                t_away = x.t
            t_far_last = x.t
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
        check_out(c, x, h.delivered, h.n_del, &dv, s, sid)
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
    # a far phone (living in another region) before a scan or claim of a phone living at
    # home (by more than a phone's clock may be off), or between two of them (by the clocks'
    # tolerance): the owner kept the item at home while someone far away scanned a copy. A
    # new owner in another city, once given the item, scans after the old one, never before.
    cdef int between = 0, jb, ja, jl, n_after = 0
    cdef int64_t t_between = -1
    cdef int64_t phone_us = phone_slack_us(c)
    if use_phones:
        for i in range(m):
            if phf[i] != PH_FAR:
                continue
            x = &E[i]
            jb = -1
            ja = -1
            jl = -1
            for j in range(m):
                if phf[j] != PH_HOME:
                    continue
                y = &E[j]
                if y.t < x.t - c.skew_us:
                    jb = <int>j
                elif y.t > x.t + c.skew_us:
                    if ja < 0:
                        ja = <int>j
                    if y.t > x.t + phone_us:
                        jl = <int>j
                        break
            if ja >= 0 and jb >= 0:
                add_ev(c, s, A_OVER, E[jb].r)
                add_ev(c, s, A_OVER, E[ja].r)
            elif jl >= 0 and not h.moved:
                n_after += 1
                add_ev(c, s, A_OVER, E[jl].r)
            else:
                continue
            between += 1
            if t_between < 0:
                t_between = x.t
            add_ev(c, s, A_OVER, x.r)
            if x.t > t_far_last:
                t_far_last = x.t
    if between:
        sc = (0.6 if n_after == between else 0.65) + 0.05 * (between - 1)
        if sc > 0.9:
            sc = 0.9
        if sc > best:
            best = sc
            t_hit = t_between
        aux |= X_PHONE_BETWEEN
    # phones living in two regions far apart, each scanning it at home, interleaved: two
    # populations of owners whichever is the first (no sure home needed)
    cdef int32_t regs[512]
    cdef Py_ssize_t hit3[3]
    hit3[0] = hit3[1] = hit3[2] = 0  # set by two_homes when it returns nonzero
    cdef int two = 0
    if c.p_home != NULL and c.reg_far != NULL and m <= 512:
        two = two_homes(c, E, m, c.skew_us, regs, phone_residents(c, E, m, regs), hit3)
    if two:
        add_ev(c, s, A_OVER, E[hit3[0]].r)
        add_ev(c, s, A_OVER, E[hit3[1]].r)
        add_ev(c, s, A_OVER, E[hit3[2]].r)
        sc = 0.65 + 0.05 * (two - 1)
        if sc > 0.9:
            sc = 0.9
        if sc > best:
            best = sc
            t_hit = E[hit3[1]].t
        if E[hit3[2]].t > t_far_last:
            t_far_last = E[hit3[2]].t
        aux |= X_TWO_HOMES
    # many phones: an owner keeps one and a household adds one or two; `phone_scanners` [5]
    # consumers' phones on one code, one of them scanning it far from where it was sold (or
    # its last holder), are buyers of copies
    cdef int32_t phones_seen[64]
    cdef int n_phones = 0
    cdef bint far0 = False
    cdef int64_t t_phones = -1
    if c.p_home != NULL and c.phone_scanners > 0:
        for i in range(m):
            x = &E[i]
            if not consumer_act(c, x):
                continue
            if distinct_push(phones_seen, &n_phones, x.by, 64) and \
                    n_phones == c.phone_scanners:
                t_phones = x.t
            if x.located and (not h.had or
                              haversine(h.lat0, h.lon0, x.lat, x.lon) > c.far_km):
                far0 = True
        if n_phones >= c.phone_scanners and far0:
            sc = 0.6 + 0.05 * (n_phones - c.phone_scanners)
            if sc > 0.9:
                sc = 0.9
            if sc > best:
                best = sc
                t_hit = t_phones
            aux |= X_MANY_PHONES
            for i in range(m):
                x = &E[i]
                if consumer_act(c, x):
                    add_ev(c, s, A_OVER, x.r)
                    if x.t > t_far_last:
                        t_far_last = x.t
    # PINs that do not match, from two or more phones none of which then claimed it: the
    # buyer of the genuine item scratched off its PIN (and retries a typo until it is
    # accepted); each of these holds a copy with a PIN of the counterfeiter's
    cdef int32_t wrong_phones[16]
    cdef int n_wrong_phones = 0
    cdef int64_t t_wrong2 = -1
    if m <= 512:
        for i in range(m):
            x = &E[i]
            if x.kind != K_CLAIM or x.detail != D_WRONG_PIN or x.by < 0 or \
                    c.p_business[x.by] != 0:
                continue
            for j in range(m):
                if E[j].kind == K_CLAIM and E[j].detail == D_OK and E[j].by == x.by:
                    break
            else:
                if distinct_push(wrong_phones, &n_wrong_phones, x.by, 16) and \
                        n_wrong_phones == 2:
                    t_wrong2 = x.t
        if n_wrong_phones >= 2:
            sc = 0.65 + 0.05 * (n_wrong_phones - 2)
            if sc > 0.9:
                sc = 0.9
            if sc > best:
                best = sc
                t_hit = t_wrong2
            aux |= X_WRONG_PINS
            for i in range(m):
                x = &E[i]
                if x.kind == K_CLAIM and x.detail == D_WRONG_PIN and x.by >= 0 and \
                        contains(wrong_phones, n_wrong_phones, x.by):
                    add_ev(c, s, A_OVER, x.r)
                    if x.t > t_far_last:
                        t_far_last = x.t
    if best == 0.0:
        if n_far >= 1:
            best = 0.25
            aux = X_FAR_SCANNERS
            t_hit = t_far1
        elif n_all >= c.weak_scanners:
            best = 0.3
            aux = X_MANY_SCANNERS
            t_hit = t_weak
        elif n_away >= 1:
            best = 0.15
            aux = X_TRAVELLER
            t_hit = t_away
    if best > 0.0:
        if aux & X_MANY_SCANNERS and s.evn[A_OVER] == 0:
            for i in range(m):
                if E[i].located and E[i].kind != K_SELL:
                    add_ev(c, s, A_OVER, E[i].r)
        emit(c, o, s, nid, A_OVER, best,
             aux, t_hit, t_far_last if t_far_last > t_all_last else t_all_last)

    rule_acts(c, n, s, o, E, m, &ni, &h, &dv)
    # diversion: observations (above) and sales (rule_acts) outside the delivered regions
    if dv.aux:
        if dv.aux & X_OUT_SALE:
            sc = 0.55
        elif dv.n_out_set >= 2:
            sc = 0.4
        else:
            sc = 0.2
        emit(c, o, s, nid, A_DIVERSION, sc, dv.aux | (dv.n_out_set << 8), dv.t_out,
             dv.t_out_last)
    rule_order(c, n, s, o, E, m, &ni)
    return -1 if o.failed else 0
