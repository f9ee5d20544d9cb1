# Detection kernels (included by _detect.pyx): the rules on what parties did to a node: who
# sold, listed or claimed it (unauthorized_seller, duplicate_listing), activity on a
# decommissioned or claimed stamp (inactive_stamp_activity), PIN guessing (claim_lockout), and
# events out of order (out_of_order).

cdef void rule_acts(const Ctx* c, Py_ssize_t n, Scratch* s, Out* o, const Ev* E,
                    Py_ssize_t m, const NodeInfo* ni, const Home* h,
                    DivState* dv) noexcept nogil:
    """Sellers, listings, claims and the stamp's lifecycle on node ``n`` (``E``: its ``m``
    events in time order); sales outside its delivered regions go into ``dv``."""
    cdef int32_t nid = <int32_t>n
    cdef Py_ssize_t i, j
    cdef const Ev* x
    cdef int32_t p, rg
    cdef double sc
    cdef int64_t phone_us = phone_slack_us(c)
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
                if not auth and (k == K_SELL or k == K_LIST) and chain_gap(c, ni, p):
                    # a gap in the chain is no proof: weak unless another shop sells it too
                    u_aux |= X_U_GAP
                    if k == K_SELL:
                        gap_sale = True
                    if u_best < 0.35:
                        u_best = 0.35
                    if t_uw < 0:
                        t_uw = x.t
                    if k == K_SELL and h.shop_party >= 0 and p != h.shop_party:
                        # another shop unpacked it: the item was there, this one sold a copy
                        u_aux |= X_U_UNPACKED
                        if u_best < 0.6:
                            u_best = 0.6
                        if t_u < 0:
                            t_u = x.t
                    if k == K_SELL and beyond_reach(c, c.p_region[p], h.delivered, h.n_chain):
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
                    if k == K_SELL and c.have_regions and h.n_del > 0:
                        rg = c.p_region[p]
                        if rg < 0 and x.located:
                            rg = region_of(c, x.lat, x.lon)
                        if rg != -2 and not contains(h.delivered, h.n_del, rg):
                            mark_out(c, x, dv, s, X_OUT_SALE)
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


cdef void rule_order(const Ctx* c, Py_ssize_t n, Scratch* s, Out* o, const Ev* E,
                     Py_ssize_t m, const NodeInfo* ni) noexcept nogil:
    """Events out of order on node ``n`` (``E``: its ``m`` events in time order)."""
    cdef int32_t nid = <int32_t>n
    cdef Py_ssize_t i, j, sg
    cdef const Ev* x
    cdef const Ev* y
    cdef int32_t r
    cdef int cnt
    cdef int64_t t_hit
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
