# Building a snapshot: event order, incidence, replay of custody and containment (included
# by _graph.pyx).

# ---------------------------------------------------------------------------------------
# build
# ---------------------------------------------------------------------------------------
def radix_argsort(const int64_t[::1] keys):
    """Stable argsort (int32 indices) of int64 keys: LSD radix, 11-bit digits over the bits
    that vary (``keys - min``), skipping digits every key shares; a sorted input costs one
    pass. Ties keep input order."""
    cdef Py_ssize_t n = keys.shape[0], i, d, pos
    if n >= 2**31 - 1:
        raise ValueError("radix_argsort: too many keys")
    out = np.empty(n, dtype=np.int32)
    cdef int32_t[::1] o = out
    if n == 0:
        return out
    cdef int64_t mn = keys[0], mx = keys[0]
    cdef bint is_sorted = True
    with nogil:
        for i in range(1, n):
            if keys[i] < keys[i - 1]:
                is_sorted = False
            if keys[i] < mn:
                mn = keys[i]
            elif keys[i] > mx:
                mx = keys[i]
    if is_sorted:
        with nogil:
            for i in range(n):
                o[i] = <int32_t>i
        return out
    cdef uint64_t span = <uint64_t>mx - <uint64_t>mn
    cdef int bits = 0
    while bits < 64 and (span >> bits) != 0:
        bits += 1
    ka = np.empty(n, dtype=np.uint64)
    kb = np.empty(n, dtype=np.uint64)
    ib = np.empty(n, dtype=np.int32)
    cnt_a = np.zeros(2048, dtype=np.int64)
    cdef uint64_t[::1] k_src = ka
    cdef uint64_t[::1] k_dst = kb
    cdef int32_t[::1] i_src = o
    cdef int32_t[::1] i_dst = ib
    cdef int64_t[::1] cnt = cnt_a
    cdef uint64_t[::1] k_tmp
    cdef int32_t[::1] i_tmp
    cdef int shift
    cdef uint64_t dig
    cdef int64_t s, c
    cdef int nonzero
    with nogil:
        for i in range(n):
            k_src[i] = <uint64_t>keys[i] - <uint64_t>mn
            i_src[i] = <int32_t>i
    shift = 0
    while shift < bits:
        with nogil:
            for d in range(2048):
                cnt[d] = 0
            for i in range(n):
                cnt[(k_src[i] >> shift) & 2047] += 1
            nonzero = 0
            for d in range(2048):
                if cnt[d]:
                    nonzero += 1
        if nonzero > 1:
            with nogil:
                s = 0
                for d in range(2048):
                    c = cnt[d]
                    cnt[d] = s
                    s += c
                for i in range(n):
                    dig = (k_src[i] >> shift) & 2047
                    pos = cnt[dig]
                    cnt[dig] = pos + 1
                    k_dst[pos] = k_src[i]
                    i_dst[pos] = i_src[i]
            k_tmp = k_src
            k_src = k_dst
            k_dst = k_tmp
            i_tmp = i_src
            i_src = i_dst
            i_dst = i_tmp
        shift += 11
    if &i_src[0] != &o[0]:
        with nogil:
            memcpy(&o[0], &i_src[0], n * sizeof(int32_t))
    return out


def hash_strings(object strings):
    """int64 ``hash()`` of every ``str`` of a 1-D object array (``TypeError`` for anything
    else), without creating a Python int per string."""
    if not isinstance(strings, np.ndarray) or strings.dtype != object or strings.ndim != 1:
        raise ValueError("hash_strings: a 1-D object array is required")
    arr = np.ascontiguousarray(strings)
    cdef Py_ssize_t n = arr.shape[0], i
    out = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] o = out
    cdef PyObject** data = <PyObject**>cnp.PyArray_DATA(arr)
    cdef object s
    for i in range(n):
        s = <object>data[i]
        if type(s) is not str:
            raise TypeError(f"EPCs must be str, not {type(s).__name__} (at {i})")
        o[i] = PyObject_Hash(s)
    return out


def prepare_events(const int32_t[::1] order, const int64_t[::1] t, const uint8_t[::1] kind,
                   const int32_t[::1] by, const int32_t[::1] src, const int32_t[::1] dst,
                   const int64_t[::1] par):
    """One pass over the events in rank order: ``(t_sorted, kind_r, par_r, cval_r, rank_of)``.

    ``cval_r`` is what the event does to custody: the new custodian (-1 for nobody, after a
    SELL) or NO_CHANGE (-2). COMMISSION gives ``by``; SHIP its source (``src``, else ``by``);
    RECEIVE its receiver (``by``, else ``dst``); SELL nobody.
    """
    cdef Py_ssize_t n = order.shape[0], r, e
    if (t.shape[0] != n or kind.shape[0] != n or by.shape[0] != n or src.shape[0] != n
            or dst.shape[0] != n or par.shape[0] != n):
        raise ValueError("prepare_events: arrays of different lengths")
    ts_a = np.empty(n, dtype=np.int64)
    kr_a = np.empty(n, dtype=np.uint8)
    pr_a = np.empty(n, dtype=np.int32)
    cv_a = np.empty(n, dtype=np.int32)
    rk_a = np.empty(n, dtype=np.int32)
    cdef int64_t[::1] ts = ts_a
    cdef uint8_t[::1] kr = kr_a
    cdef int32_t[::1] pr = pr_a
    cdef int32_t[::1] cv = cv_a
    cdef int32_t[::1] rk = rk_a
    cdef uint8_t k
    cdef int32_t v
    cdef bint bad = False
    with nogil:
        for r in range(n):
            e = order[r]
            if e < 0 or e >= n:
                bad = True
                break
            rk[e] = <int32_t>r
            ts[r] = t[e]
            k = kind[e]
            kr[r] = k
            pr[r] = <int32_t>par[e]
            v = NO_CHANGE
            if k == K_COMMISSION:
                v = by[e]
            elif k == K_SHIP:
                v = src[e] if src[e] >= 0 else by[e]
                if v < 0:
                    v = NO_CHANGE
            elif k == K_RECEIVE:
                v = by[e] if by[e] >= 0 else dst[e]
                if v < 0:
                    v = NO_CHANGE
            elif k == K_SELL:
                v = -1
            cv[r] = v
    if bad:
        raise IndexError("prepare_events: order out of range")
    return ts_a, kr_a, pr_a, cv_a, rk_a


def incidence_by_rank(const int32_t[::1] rank_of, const int64_t[::1] inc_event,
                      const int64_t[::1] inc_node):
    """Incidence CSR by event rank: ``(ev_ptr int64[E+1], ev_nodes int32)``; rows of one event
    keep their input order."""
    cdef Py_ssize_t n_ev = rank_of.shape[0], m = inc_event.shape[0], i, r
    if inc_node.shape[0] != m:
        raise ValueError("incidence_by_rank: arrays of different lengths")
    ptr_a = np.zeros(n_ev + 1, dtype=np.int64)
    nodes_a = np.empty(m, dtype=np.int32)
    cdef int64_t[::1] ptr = ptr_a
    cdef int32_t[::1] nodes = nodes_a
    cdef bint bad = False
    with nogil:
        for i in range(m):
            if inc_event[i] < 0 or inc_event[i] >= n_ev:
                bad = True
                break
            ptr[rank_of[inc_event[i]] + 1] += 1
    if bad:
        raise IndexError("incidence_by_rank: event id out of range")
    fill_a = np.empty(n_ev + 1, dtype=np.int64)
    cdef int64_t[::1] fill = fill_a
    with nogil:
        for r in range(n_ev):
            ptr[r + 1] += ptr[r]
        memcpy(&fill[0], &ptr[0], (n_ev + 1) * sizeof(int64_t))
        for i in range(m):
            r = rank_of[inc_event[i]]
            nodes[fill[r]] = <int32_t>inc_node[i]
            fill[r] += 1
    return ptr_a, nodes_a


def group_by(const int32_t[::1] keys, Py_ssize_t n_keys, *values):
    """Stable grouping by key in ``[0, n_keys)``: ``(ptr int64[n_keys+1], grouped...)`` where
    each grouped array is the matching int32 ``values`` array reordered by key."""
    cdef Py_ssize_t n = keys.shape[0], i, k
    cdef const int32_t[::1] src
    cdef int32_t[::1] dst
    ptr_a = np.zeros(n_keys + 1, dtype=np.int64)
    cdef int64_t[::1] ptr = ptr_a
    cdef bint bad = False
    with nogil:
        for i in range(n):
            k = keys[i]
            if k < 0 or k >= n_keys:
                bad = True
                break
            ptr[k + 1] += 1
        if not bad:
            for k in range(n_keys):
                ptr[k + 1] += ptr[k]
    if bad:
        raise IndexError("group_by: key out of range")
    fill_a = np.empty(n_keys + 1, dtype=np.int64)
    cdef int64_t[::1] fill = fill_a
    out = [ptr_a]
    for v in values:
        src = v
        if src.shape[0] != n:
            raise ValueError("group_by: values of a different length")
        res = np.empty(n, dtype=np.int32)
        dst = res
        with nogil:
            memcpy(&fill[0], &ptr[0], (n_keys + 1) * sizeof(int64_t))
            for i in range(n):
                k = keys[i]
                dst[fill[k]] = src[i]
                fill[k] += 1
        out.append(res)
    return tuple(out)


def own_events(const uint8_t[::1] kind, const int64_t[::1] ev_ptr,
               const int32_t[::1] ev_nodes, const int32_t[::1] par, Py_ssize_t n_nodes):
    """Every node's own events (incidence rows and aggregation parent, one per (node,
    event)), ranks ascending: ``(own_ptr int64[N+1], own_rank int32, n_agg_rows)``, where
    ``n_agg_rows`` counts the incidence rows of AGGREGATE events with a parent (an upper
    bound on the stays)."""
    cdef Py_ssize_t n_ev = par.shape[0], r, j, j1, x, n_agg = 0, m = ev_nodes.shape[0]
    if ev_ptr.shape[0] != n_ev + 1 or kind.shape[0] != n_ev:
        raise ValueError("own_events: arrays of inconsistent lengths")
    _check_csr(ev_ptr, m)
    cdef bint bad = False
    with nogil:
        for j in range(m):
            if ev_nodes[j] < 0 or ev_nodes[j] >= n_nodes:
                bad = True
        for r in range(n_ev):
            if par[r] < -1 or par[r] >= n_nodes:
                bad = True
    if bad:
        raise IndexError("own_events: node id out of range")
    # sc[2x] = start of x's range, sc[2x+1] = fill cursor (one cache line per node)
    sc_a = np.zeros(2 * n_nodes + 2, dtype=np.int64)
    cdef int64_t[::1] sc = sc_a
    cdef int64_t s, c, total
    with nogil:
        for j in range(m):
            sc[2 * ev_nodes[j] + 1] += 1
        for r in range(n_ev):
            if par[r] >= 0:
                sc[2 * par[r] + 1] += 1
                if kind[r] == K_AGGREGATE:
                    n_agg += ev_ptr[r + 1] - ev_ptr[r]
        s = 0
        for x in range(n_nodes + 1):
            c = sc[2 * x + 1]
            sc[2 * x] = s
            sc[2 * x + 1] = s
            s += c
        total = s
    own_a = np.empty(total, dtype=np.int32)
    cdef int32_t[::1] own = own_a
    cdef bint gaps = False
    with nogil:
        for r in range(n_ev):
            j1 = ev_ptr[r + 1]
            for j in range(ev_ptr[r], j1 + 1):
                if j < j1:
                    x = ev_nodes[j]
                elif par[r] >= 0:
                    x = par[r]
                else:
                    break
                c = sc[2 * x + 1]
                if c > sc[2 * x] and own[c - 1] == r:
                    gaps = True  # the node twice in one event
                    continue
                own[c] = <int32_t>r
                sc[2 * x + 1] = c + 1
    ptr_a = np.empty(n_nodes + 1, dtype=np.int64)
    cdef int64_t[::1] ptr = ptr_a
    cdef int64_t k, out = 0
    with nogil:
        if not gaps:
            for x in range(n_nodes + 1):
                ptr[x] = sc[2 * x]
        else:
            for x in range(n_nodes):
                ptr[x] = out
                for k in range(sc[2 * x], sc[2 * x + 1]):
                    own[out] = own[k]
                    out += 1
            ptr[n_nodes] = out
    if gaps:
        own_a = own_a[:out].copy()
    return ptr_a, own_a, n_agg


cdef _check_csr(const int64_t[::1] ptr, Py_ssize_t m):
    cdef Py_ssize_t i, n = ptr.shape[0]
    if n == 0 or ptr[0] != 0 or ptr[n - 1] != m:
        raise ValueError("bad CSR pointer")
    for i in range(1, n):
        if ptr[i] < ptr[i - 1]:
            raise ValueError("bad CSR pointer")


# per-node replay state, one 32-byte record per node
DEF F_PARENT = 0
DEF F_FIRST = 1
DEF F_NEXT = 2
DEF F_PREV = 3
DEF F_CUST = 4
DEF F_OPEN = 5
DEF F_SEEN = 6
DEF F_WIDTH = 8


def replay(const uint8_t[::1] kind, const int32_t[::1] par, const int32_t[::1] cval,
           const int64_t[::1] ev_ptr, const int32_t[::1] ev_nodes, Py_ssize_t n_nodes,
           Py_ssize_t lk_cap):
    """Replay events in rank order once: containment stays and custody.

    ``kind``, ``par`` (aggregation parent or -1) and ``cval`` (new custodian, -1 for nobody,
    or NO_CHANGE=-2) are in rank order; ``ev_ptr``/``ev_nodes`` is the incidence CSR by rank
    (input order kept within an event); ``lk_cap`` bounds the number of stays. Returns
    ``(parent_now, cust_now, (lk_child, lk_parent, lk_start, lk_end), (seg_node, seg_rank,
    seg_party))``: every node's final parent and custodian (-1: none), the stays in start
    order and the custody segments in rank order (one per change of a node's custodian).

    Rules: an AGGREGATE moves each child into the parent (closing its stay elsewhere) unless
    the child is the parent or one of its ancestors (a cycle: the row is ignored); a
    DISAGGREGATE with no incidence rows unpacks every child, else the listed ones that are
    inside. A custody change applies to the event's own nodes and everything inside them.
    """
    cdef Py_ssize_t n_events = kind.shape[0]
    if (par.shape[0] != n_events or cval.shape[0] != n_events
            or ev_ptr.shape[0] != n_events + 1):
        raise ValueError("replay: arrays of inconsistent lengths")
    _check_csr(ev_ptr, ev_nodes.shape[0])
    cdef Py_ssize_t i
    cdef bint bad = False
    with nogil:
        for i in range(ev_nodes.shape[0]):
            if ev_nodes[i] < 0 or ev_nodes[i] >= n_nodes:
                bad = True
        for i in range(n_events):
            if par[i] < -1 or par[i] >= n_nodes or cval[i] < NO_CHANGE:
                bad = True
    if bad:
        raise IndexError("replay: id out of range")

    st_a = np.full(n_nodes * F_WIDTH, -1, dtype=np.int32)
    stack_a = np.empty(max(n_nodes, 1), dtype=np.int32)
    cdef int32_t[::1] st = st_a
    cdef int32_t[::1] stack = stack_a
    lk_a = np.empty((4, max(lk_cap, 1)), dtype=np.int32)
    cdef int32_t[:, ::1] lk = lk_a

    cdef Py_ssize_t seg_cap = max(16, n_nodes * 4), n_seg = 0
    sn_a = np.empty(seg_cap, dtype=np.int32)
    sr_a = np.empty(seg_cap, dtype=np.int32)
    sp_a = np.empty(seg_cap, dtype=np.int32)
    cdef int32_t[::1] s_node = sn_a
    cdef int32_t[::1] s_rank = sr_a
    cdef int32_t[::1] s_party = sp_a

    cdef Py_ssize_t r, j, j0, j1, n_lk = 0, sp, n_own
    cdef int32_t p, c, x, y, v, q, pv, nx, ri
    cdef uint8_t k
    cdef bint cyc, over = False, multi
    with nogil:
        for r in range(n_events):
            k = kind[r]
            p = par[r]
            v = cval[r]
            ri = <int32_t>r
            if v == NO_CHANGE and p < 0:
                continue  # an observation: nothing to replay
            j0 = ev_ptr[r]
            j1 = ev_ptr[r + 1]
            # containment
            if k == K_AGGREGATE and p >= 0:
                for j in range(j0, j1):
                    c = ev_nodes[j]
                    if c == p or st[c * F_WIDTH + F_PARENT] == p:
                        continue
                    cyc = False
                    x = p
                    while x != -1:
                        if x == c:
                            cyc = True
                            break
                        x = st[x * F_WIDTH + F_PARENT]
                    if cyc:
                        continue
                    if n_lk >= lk_cap:
                        over = True
                        break
                    q = st[c * F_WIDTH + F_PARENT]
                    if q != -1:  # moved without unpacking: the old stay ends before r
                        lk[3, st[c * F_WIDTH + F_OPEN]] = ri
                        pv = st[c * F_WIDTH + F_PREV]
                        nx = st[c * F_WIDTH + F_NEXT]
                        if pv != -1:
                            st[pv * F_WIDTH + F_NEXT] = nx
                        else:
                            st[q * F_WIDTH + F_FIRST] = nx
                        if nx != -1:
                            st[nx * F_WIDTH + F_PREV] = pv
                    nx = st[p * F_WIDTH + F_FIRST]
                    st[c * F_WIDTH + F_PARENT] = p
                    st[c * F_WIDTH + F_PREV] = -1
                    st[c * F_WIDTH + F_NEXT] = nx
                    if nx != -1:
                        st[nx * F_WIDTH + F_PREV] = c
                    st[p * F_WIDTH + F_FIRST] = c
                    st[c * F_WIDTH + F_OPEN] = <int32_t>n_lk
                    lk[0, n_lk] = c
                    lk[1, n_lk] = p
                    lk[2, n_lk] = ri
                    lk[3, n_lk] = <int32_t>n_events
                    n_lk += 1
                if over:
                    break
            elif k == K_DISAGGREGATE and p >= 0:
                if j0 == j1:  # unpack all
                    c = st[p * F_WIDTH + F_FIRST]
                    while c != -1:
                        lk[3, st[c * F_WIDTH + F_OPEN]] = ri + 1
                        nx = st[c * F_WIDTH + F_NEXT]
                        st[c * F_WIDTH + F_OPEN] = -1
                        st[c * F_WIDTH + F_PARENT] = -1
                        st[c * F_WIDTH + F_NEXT] = -1
                        st[c * F_WIDTH + F_PREV] = -1
                        c = nx
                    st[p * F_WIDTH + F_FIRST] = -1
                else:
                    for j in range(j0, j1):
                        c = ev_nodes[j]
                        if st[c * F_WIDTH + F_PARENT] != p:
                            continue
                        lk[3, st[c * F_WIDTH + F_OPEN]] = ri + 1
                        pv = st[c * F_WIDTH + F_PREV]
                        nx = st[c * F_WIDTH + F_NEXT]
                        if pv != -1:
                            st[pv * F_WIDTH + F_NEXT] = nx
                        else:
                            st[p * F_WIDTH + F_FIRST] = nx
                        if nx != -1:
                            st[nx * F_WIDTH + F_PREV] = pv
                        st[c * F_WIDTH + F_OPEN] = -1
                        st[c * F_WIDTH + F_PARENT] = -1
                        st[c * F_WIDTH + F_PREV] = -1
                        st[c * F_WIDTH + F_NEXT] = -1
            # custody: own nodes and everything inside them now
            if v == NO_CHANGE:
                continue
            n_own = j1 - j0 + (1 if p >= 0 else 0)
            multi = n_own > 1  # overlapping subtrees possible: mark visited nodes
            for j in range(j0, j1 + 1):
                if j < j1:
                    x = ev_nodes[j]
                elif p >= 0:
                    x = p
                else:
                    break
                sp = 0
                stack[sp] = x
                sp += 1
                while sp > 0:
                    sp -= 1
                    y = stack[sp]
                    if multi:
                        if st[y * F_WIDTH + F_SEEN] == ri:
                            continue
                        st[y * F_WIDTH + F_SEEN] = ri
                    if st[y * F_WIDTH + F_CUST] != v:
                        st[y * F_WIDTH + F_CUST] = v
                        if n_seg == seg_cap:
                            with gil:
                                seg_cap *= 2
                                sn_a = np.resize(sn_a, seg_cap)
                                sr_a = np.resize(sr_a, seg_cap)
                                sp_a = np.resize(sp_a, seg_cap)
                                s_node = sn_a
                                s_rank = sr_a
                                s_party = sp_a
                        s_node[n_seg] = y
                        s_rank[n_seg] = ri
                        s_party[n_seg] = v
                        n_seg += 1
                    c = st[y * F_WIDTH + F_FIRST]
                    while c != -1:
                        stack[sp] = c
                        sp += 1
                        c = st[c * F_WIDTH + F_NEXT]
    if over:
        raise ValueError("replay: more stays than lk_cap")
    state = st_a.reshape(max(n_nodes, 0), F_WIDTH) if n_nodes else st_a.reshape(0, F_WIDTH)
    parent_now = np.ascontiguousarray(state[:, F_PARENT])
    cust_now = np.ascontiguousarray(state[:, F_CUST])
    del state, st_a
    links = tuple(lk_a[f, :n_lk] for f in range(4))  # views: the caller groups and drops them
    return parent_now, cust_now, links, (sn_a[:n_seg], sr_a[:n_seg], sp_a[:n_seg])


def preorder_forest(const int32_t[::1] parent, const int64_t[::1] ch_ptr,
                    const int32_t[::1] ch_node):
    """Depth-first preorder of the forest ``parent`` (children CSR ``ch_ptr``/``ch_node``,
    children ascending). Returns ``(nodes, pos, size)``: ``nodes[pos[n]]`` is ``n`` and its
    descendants are ``nodes[pos[n] + 1 : pos[n] + size[n]]``."""
    cdef Py_ssize_t n = parent.shape[0], i, out = 0, sp, j
    if ch_ptr.shape[0] != n + 1:
        raise ValueError("preorder: bad children pointer")
    if ch_ptr[n] != ch_node.shape[0]:
        raise ValueError("preorder: bad children pointer")
    for i in range(ch_node.shape[0]):
        if ch_node[i] < 0 or ch_node[i] >= n:
            raise IndexError("preorder: node id out of range")
    for i in range(n):
        if parent[i] < -1 or parent[i] >= n:
            raise IndexError("preorder: parent id out of range")
    nodes_a = np.empty(n, dtype=np.int32)
    pos_a = np.full(n, -1, dtype=np.int32)
    size_a = np.ones(n, dtype=np.int32)
    stack_a = np.empty(max(n, 1), dtype=np.int32)
    cdef int32_t[::1] nodes = nodes_a
    cdef int32_t[::1] pos = pos_a
    cdef int32_t[::1] size = size_a
    cdef int32_t[::1] stack = stack_a
    cdef int32_t x
    cdef bint bad = False
    with nogil:
        for i in range(n):
            if parent[i] != -1:
                continue
            sp = 0
            stack[sp] = <int32_t>i
            sp += 1
            while sp > 0:
                sp -= 1
                x = stack[sp]
                if pos[x] != -1 or out >= n:
                    bad = True
                    break
                pos[x] = <int32_t>out
                nodes[out] = x
                out += 1
                # push children in reverse so that they pop ascending
                j = ch_ptr[x + 1] - 1
                while j >= ch_ptr[x]:
                    if sp >= n:
                        bad = True
                        break
                    stack[sp] = ch_node[j]
                    sp += 1
                    j -= 1
                if bad:
                    break
            if bad:
                break
        if not bad and out == n:
            # subtree sizes: children come after their parent in preorder
            for i in range(n - 1, -1, -1):
                x = nodes[i]
                if parent[x] != -1:
                    size[parent[x]] += size[x]
    if bad or out != n:
        raise ValueError("preorder: the parent array is not a forest")
    return nodes_a, pos_a, size_a
