# Detection kernels (included by _detect.pyx): analyse, every rule on one node.

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
    # goods on (a maker, a wholesaler): the steps to the shop were not recorded; a shop
    # that unpacked it later had it (its home), else the consumers' observations are nearer
    # the truth.
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
    cdef int n_near, best_near = -1, n_seen = 0, n_mine, best_mine = -1
    cdef bint shop_home = False
    cdef int32_t home_shop = -1
    if ni.last >= 0 and c.p_business[ni.last] == 2:
        for i in range(m - 1, -1, -1):
            p = E[i].by
            if E[i].kind == K_DISAGGREGATE and p >= 0 and c.p_business[p] == 3 and \
                    valid_ll(c.p_lat[p], c.p_lon[p]):
                home_shop = p
                break
        if home_shop >= 0 and not sold_home:
            hlat = h0lat = c.p_lat[home_shop]
            hlon = h0lon = c.p_lon[home_shop]
            has_home = shop_home = True
    if has_home and not sold_home and not shop_home and ni.last >= 0 and \
            c.p_business[ni.last] == 2:
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
                hlat = E[i].lat
                hlon = E[i].lon
                moved_home = True
    cdef bint had_home = has_home  # (before falling back on the first observation)
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
    # shipped by its maker and no later holder recorded: observations near the maker (its
    # home by default) are checked against where it was shipped to
    cdef bint shipped_away = False
    cdef int n_chain = 0
    cdef int32_t rg
    if c.have_regions:
        # where it was shipped to (the receipt perhaps never recorded): delivered there, and
        # once shipped it has left its maker, whose region no longer counts
        ship_regions(c, n, delivered, &n_del, 32)
        shipped_away = n_del > 0
        for sg in range(c.seg_ptr[n], c.seg_ptr[n + 1]):
            p = c.seg_party[sg]
            if p < 0:
                continue
            if p != ni.first:
                skip_first = True
                shipped_away = False  # a later holder on record: its home is theirs
                break
        skip_first = skip_first or shipped_away
        for sg in range(c.seg_ptr[n], c.seg_ptr[n + 1]):
            p = c.seg_party[sg]
            if p < 0 or (skip_first and p == ni.first):
                continue
            rg = c.p_region[p]
            if rg >= 0:
                distinct_push(delivered, &n_del, rg, 32)
        # the regions its recorded chain took it to past its maker (a maker serves anywhere)
        n_chain = n_del if skip_first else 0
        # the shops that sold it past a gap in the records (the steps to them not recorded):
        # delivered there too, not diverted
        for i in range(m):
            p = E[i].by
            if E[i].kind == K_SELL and p >= 0 and not in_chain(c, n, p) and \
                    chain_gap(c, &ni, p):
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
    # a far observation and, too close in time to have come from home, a scan or claim with
    # no location by another device: that one was at home (where it was sold, or the shop
    # holding it), the other a copy. Weighed below a located pair.
    cdef int upairs = 0
    cdef int64_t t_upair = -1
    cdef bint home_sure = has_home and (sold_home or shop_home or (ni.last >= 0 and
                                                      c.p_business[ni.last] == 3))
    if home_sure and not dpairs and m <= 512:
        for i in range(m):
            x = &E[i]
            if not x.located or not (x.kind == K_SCAN or x.kind == K_CLAIM):
                continue
            d = haversine(h0lat, h0lon, x.lat, x.lon) - 2.0 * c.location_km
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
    cdef bint use_phones = c.p_home != NULL and has_home and m <= 512
    cdef int ppairs = 0
    cdef int64_t t_ppair = -1
    cdef double win_h
    if use_phones:
        # (a home moved to where most consumers scan it is no sure home: no owner is known)
        phone_flags(c, E, m, hlat, hlon, phf)
        for i in range(m):
            if phf[i] != PH_FAR:
                continue
            x = &E[i]
            d = haversine(hlat, hlon, x.lat, x.lon)
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
        if not has_home:
            continue
        d = haversine(hlat, hlon, x.lat, x.lon)
        far = d > c.far_km
        if not far:
            away = False
            if not (shipped_away and not sold_home) and \
                    (not moved_home or haversine(h0lat, h0lon, x.lat, x.lon) <= c.far_km):
                continue
            # far from its last holder only, or near the maker that shipped it away:
            # diversion may apply, not over_scanned
            check_out(c, x, delivered, n_del, out_set, &n_out_set, &t_out, &t_out_last,
                      &div_aux, s, sid)
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
    # a far phone (living in another region) before a scan or claim of a phone living at
    # home (by more than a phone's clock may be off), or between two of them (by the clocks'
    # tolerance): the owner kept the item at home while someone far away scanned a copy. A
    # new owner in another city, once given the item, scans after the old one, never before.
    cdef int between = 0, jb, ja, jl, n_after = 0
    cdef int64_t t_between = -1
    cdef int64_t phone_us = <int64_t>(c.phone_clock_h * 3.6e9)
    if phone_us < c.skew_us:
        phone_us = c.skew_us
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
            elif jl >= 0 and not moved_home:
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
            if x.located and (not had_home or
                              haversine(h0lat, h0lon, x.lat, x.lon) > c.far_km):
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
                    if k == K_SELL and home_shop >= 0 and p != home_shop:
                        # another shop unpacked it: the item was there, this one sold a copy
                        u_aux |= X_U_UNPACKED
                        if u_best < 0.6:
                            u_best = 0.6
                        if t_u < 0:
                            t_u = x.t
                    if k == K_SELL and beyond_reach(c, c.p_region[p], delivered, n_chain):
                        # no distributor of its chain serves that far: not a plausible next step
                        u_aux |= X_U_REACH
                        if u_best < 0.6:
                            u_best = 0.6
                        if t_u < 0:
                            t_u = x.t
                    t_u_last = x.t if x.t > t_u_last else t_u_last
                    add_ev(c, s, A_UNAUTH, x.r)
                    if k == K_SELL and c.p_home != NULL and m <= 512:
                        # scanned before this sale by a phone living far from the shop: the
                        # item had an owner elsewhere already, the shop sold a copy
                        if valid_ll(x.lat, x.lon):
                            j = phone_before_far(c, E, m, x.lat, x.lon, x.t - phone_us)
                        else:
                            j = phone_before_far(c, E, m, c.p_lat[p], c.p_lon[p],
                                                 x.t - phone_us)
                        if j >= 0:
                            u_aux |= X_U_PHONE
                            if u_best < 0.8:
                                u_best = 0.8
                            if t_u < 0:
                                t_u = x.t
                            add_ev(c, s, A_UNAUTH, E[j].r)
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
