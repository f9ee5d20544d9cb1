# The per-query kernels over a snapshot's CSR arrays (included by _graph.pyx).

# ---------------------------------------------------------------------------------------
# queries
# ---------------------------------------------------------------------------------------
DEF SMALL = 128


cdef class Kernels:
    """Read-only views of a snapshot's CSR arrays and the per-query kernels over them."""

    cdef const int64_t[::1] own_ptr
    cdef const int32_t[::1] own_rank
    cdef const int64_t[::1] lk_ptr
    cdef const int32_t[::1] lk_parent
    cdef const int32_t[::1] lk_start
    cdef const int32_t[::1] lk_end
    cdef const int64_t[::1] seg_ptr
    cdef const int32_t[::1] seg_start
    cdef const int32_t[::1] seg_party
    cdef const int32_t[::1] order
    cdef const int32_t[::1] parent_now
    cdef const int64_t[::1] hashes
    cdef const int32_t[::1] hash_node
    cdef const int64_t[::1] t_sorted
    cdef object epcs  # object array of str, kept alive; read through epcs_data
    cdef PyObject** epcs_data
    cdef readonly Py_ssize_t n_nodes
    cdef readonly Py_ssize_t n_events

    def __init__(self, own_ptr, own_rank, lk_ptr, lk_parent, lk_start, lk_end,
                 seg_ptr, seg_start, seg_party, order, parent_now, hashes, hash_node, epcs,
                 t_sorted):
        n_nodes = len(parent_now)
        n_events = len(order)
        for ptr in (own_ptr, lk_ptr, seg_ptr):
            ptr = np.asarray(ptr)
            if len(ptr) == 0 or ptr[0] != 0 or np.any(np.diff(ptr) < 0):
                raise ValueError("Kernels: bad CSR pointer")
        for arr, lo, hi in ((own_rank, 0, n_events), (lk_parent, 0, n_nodes),
                            (parent_now, -1, n_nodes), (order, 0, 2**31 - 1),
                            (hash_node, 0, n_nodes)):
            arr = np.asarray(arr)
            if len(arr) and (arr.min() < lo or arr.max() >= hi):
                raise ValueError("Kernels: id out of range")
        if not isinstance(epcs, np.ndarray) or epcs.dtype != object or epcs.ndim != 1 \
                or len(epcs) != n_nodes:
            raise ValueError("Kernels: epcs must be a 1-D object array, one per node")
        self.own_ptr = own_ptr
        self.own_rank = own_rank
        self.lk_ptr = lk_ptr
        self.lk_parent = lk_parent
        self.lk_start = lk_start
        self.lk_end = lk_end
        self.seg_ptr = seg_ptr
        self.seg_start = seg_start
        self.seg_party = seg_party
        self.order = order
        self.parent_now = parent_now
        self.hashes = hashes
        self.hash_node = hash_node
        self.t_sorted = t_sorted
        if self.t_sorted.shape[0] != n_events:
            raise ValueError("Kernels: one time per event")
        self.epcs = np.ascontiguousarray(epcs)
        self.epcs_data = <PyObject**>cnp.PyArray_DATA(self.epcs)
        self.n_nodes = parent_now.shape[0]
        self.n_events = order.shape[0]
        cdef Py_ssize_t n = self.n_nodes
        if (self.own_ptr.shape[0] != n + 1 or self.lk_ptr.shape[0] != n + 1
                or self.seg_ptr.shape[0] != n + 1 or self.hashes.shape[0] != n
                or self.hash_node.shape[0] != n):
            raise ValueError("Kernels: per-node arrays of different lengths")
        if (self.own_ptr[n] != self.own_rank.shape[0]
                or self.lk_ptr[n] != self.lk_parent.shape[0]
                or self.lk_start.shape[0] != self.lk_parent.shape[0]
                or self.lk_end.shape[0] != self.lk_parent.shape[0]
                or self.seg_ptr[n] != self.seg_start.shape[0]
                or self.seg_party.shape[0] != self.seg_start.shape[0]):
            raise ValueError("Kernels: CSR pointers do not match their arrays")

    cdef inline int _check(self, Py_ssize_t node) except -1:
        if node < 0 or node >= self.n_nodes:
            raise IndexError(f"node id {node} out of range [0, {self.n_nodes})")
        return 0

    def rank_at(self, int64_t t):
        """Rank of the last event at or before time ``t`` (-1 if none)."""
        cdef Py_ssize_t lo = 0, hi = self.t_sorted.shape[0], mid
        while lo < hi:
            mid = (lo + hi) >> 1
            if self.t_sorted[mid] <= t:
                lo = mid + 1
            else:
                hi = mid
        return lo - 1

    def node_of(self, object epc):
        """Node id of the EPC string ``epc``, or -1 (sorted 64-bit hashes, then a string
        comparison; equal hashes of different strings are walked through)."""
        if type(epc) is not str:
            return -1
        cdef int64_t h = PyObject_Hash(epc)
        cdef Py_ssize_t lo = 0, hi = self.hashes.shape[0], mid, n = hi
        cdef int32_t j
        while lo < hi:
            mid = (lo + hi) >> 1
            if self.hashes[mid] < h:
                lo = mid + 1
            else:
                hi = mid
        while lo < n and self.hashes[lo] == h:
            j = self.hash_node[lo]
            if PyObject_RichCompareBool(<object>self.epcs_data[j], epc, Py_EQ) == 1:
                return j
            lo += 1
        return -1

    def history(self, Py_ssize_t node):
        """Input indices (int64, sorted by rank) of the node's own events and of the events
        of every container during its stay there, at every level (intervals intersected)."""
        self._check(node)
        cdef int32_t l_buf[SMALL]
        cdef int32_t l_node[SMALL]
        cdef int32_t l_lo[SMALL]
        cdef int32_t l_hi[SMALL]
        cdef IBuf buf, st_node, st_lo, st_hi
        ibuf_init(&buf, l_buf, SMALL)
        ibuf_init(&st_node, l_node, SMALL)
        ibuf_init(&st_lo, l_lo, SMALL)
        ibuf_init(&st_hi, l_hi, SMALL)
        cdef int err = 0
        cdef int32_t x, lo, hi, a, b
        cdef Py_ssize_t i, i0, i1, kk, m = 0
        cdef const int32_t* own = &self.own_rank[0] if self.own_rank.shape[0] else NULL
        cdef cnp.npy_intp dims[1]
        cdef int64_t* o
        try:
            with nogil:
                err = ibuf_push(&st_node, <int32_t>node) or ibuf_push(&st_lo, 0) or \
                    ibuf_push(&st_hi, <int32_t>self.n_events)
                while not err and st_node.n > 0:
                    st_node.n -= 1
                    st_lo.n -= 1
                    st_hi.n -= 1
                    x = st_node.data[st_node.n]
                    lo = st_lo.data[st_lo.n]
                    hi = st_hi.data[st_hi.n]
                    i0 = self.own_ptr[x]
                    i1 = self.own_ptr[x + 1]
                    if i1 > i0:
                        i0 = lower_bound_i32(own, i0, i1, lo)
                        i1 = lower_bound_i32(own, i0, i1, hi)
                        for i in range(i0, i1):
                            if ibuf_push(&buf, own[i]):
                                err = 1
                                break
                    for kk in range(self.lk_ptr[x], self.lk_ptr[x + 1]):
                        a = self.lk_start[kk]
                        b = self.lk_end[kk]
                        if a < lo:
                            a = lo
                        if b > hi:
                            b = hi
                        if a < b:
                            if ibuf_push(&st_node, self.lk_parent[kk]) or \
                                    ibuf_push(&st_lo, a) or ibuf_push(&st_hi, b):
                                err = 1
                                break
                if not err and buf.n > 1:
                    sort_i32(buf.data, buf.n)
                    m = 1
                    for i in range(1, buf.n):
                        if buf.data[i] != buf.data[m - 1]:
                            buf.data[m] = buf.data[i]
                            m += 1
                    buf.n = m
            if err:
                raise MemoryError()
            dims[0] = buf.n
            out = cnp.PyArray_EMPTY(1, dims, cnp.NPY_INT64, 0)
            o = <int64_t*>cnp.PyArray_DATA(out)
            for i in range(buf.n):
                o[i] = self.order[buf.data[i]]
        finally:
            ibuf_free(&buf)
            ibuf_free(&st_node)
            ibuf_free(&st_lo)
            ibuf_free(&st_hi)
        return out

    def custodian_at(self, Py_ssize_t node, Py_ssize_t rank):
        """Party id holding ``node`` after the event of rank ``rank`` (-1: nobody/unknown)."""
        self._check(node)
        cdef Py_ssize_t i0 = self.seg_ptr[node], i1 = self.seg_ptr[node + 1], i
        if rank < 0 or i1 == i0:
            return -1
        if rank >= self.n_events:
            rank = self.n_events - 1
        # last segment starting at or before ``rank``
        i = lower_bound_i32(&self.seg_start[0], i0, i1, <int32_t>(rank + 1))
        if i == i0:
            return -1
        return self.seg_party[i - 1]

    def containers(self, Py_ssize_t node):
        """Node ids of the parent, grandparent, ... now (int32)."""
        self._check(node)
        cdef Py_ssize_t depth = 0
        cdef int32_t x = self.parent_now[node]
        while x != -1 and depth <= self.n_nodes:
            depth += 1
            x = self.parent_now[x]
        out = np.empty(depth, dtype=np.int32)
        cdef int32_t[::1] o = out
        cdef Py_ssize_t i
        x = self.parent_now[node]
        for i in range(depth):
            o[i] = x
            x = self.parent_now[x]
        return out

    def held_by(self, const int32_t[::1] cands, int32_t via, int32_t r_from, int32_t r_to):
        """Mask over ``cands``: a custody segment of party ``via`` covers some rank in the
        window. A segment ``[s, e)`` (``e``: next segment's start, or infinity) qualifies when
        ``s <= r_to`` and ``e >= r_from``: in time, its closed interval meets the window."""
        cdef Py_ssize_t n = cands.shape[0], i, kk, k1
        cdef int32_t x, e
        out = np.zeros(n, dtype=np.bool_)
        cdef uint8_t[::1] o = out.view(np.uint8)
        cdef bint bad = False
        for i in range(n):
            if cands[i] < 0 or cands[i] >= self.n_nodes:
                raise IndexError("held_by: node id out of range")
        with nogil:
            for i in range(n):
                x = cands[i]
                k1 = self.seg_ptr[x + 1]
                for kk in range(self.seg_ptr[x], k1):
                    if self.seg_start[kk] > r_to:
                        break
                    if self.seg_party[kk] != via:
                        continue
                    if kk + 1 < k1:
                        e = self.seg_start[kk + 1]
                        if e < r_from:
                            continue
                    o[i] = 1
                    break
        return out
