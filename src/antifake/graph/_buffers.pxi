# Growable int32 buffers and sorted-array helpers of the graph kernels (included by _graph.pyx).

# ---------------------------------------------------------------------------------------
# growable int32 buffers: start in caller-provided (stack) memory, move to the heap if needed
# ---------------------------------------------------------------------------------------
cdef struct IBuf:
    int32_t* data
    Py_ssize_t n
    Py_ssize_t cap
    bint heap


cdef inline void ibuf_init(IBuf* b, int32_t* local, Py_ssize_t cap) noexcept nogil:
    b.data = local
    b.n = 0
    b.cap = cap
    b.heap = False


cdef inline int ibuf_push(IBuf* b, int32_t v) noexcept nogil:
    cdef int32_t* p
    cdef Py_ssize_t cap
    if b.n == b.cap:
        cap = b.cap * 2
        if b.heap:
            p = <int32_t*>realloc(b.data, cap * sizeof(int32_t))
        else:
            p = <int32_t*>malloc(cap * sizeof(int32_t))
            if p != NULL:
                memcpy(p, b.data, b.n * sizeof(int32_t))
        if p == NULL:
            return -1
        b.data = p
        b.cap = cap
        b.heap = True
    b.data[b.n] = v
    b.n += 1
    return 0


cdef inline void ibuf_free(IBuf* b) noexcept nogil:
    if b.heap and b.data != NULL:
        free(b.data)
    b.data = NULL
    b.n = 0
    b.cap = 0
    b.heap = False


cdef inline void sort_i32(int32_t* a, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef int32_t v
    if n > 48:
        qsort(a, n, sizeof(int32_t), _cmp_i32)
        return
    for i in range(1, n):
        v = a[i]
        j = i - 1
        while j >= 0 and a[j] > v:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = v


cdef int _cmp_i32(const void* a, const void* b) noexcept nogil:
    cdef int32_t x = (<const int32_t*>a)[0]
    cdef int32_t y = (<const int32_t*>b)[0]
    return (x > y) - (x < y)


cdef inline Py_ssize_t lower_bound_i32(const int32_t* a, Py_ssize_t lo, Py_ssize_t hi,
                                       int32_t v) noexcept nogil:
    """First index in [lo, hi) with a[i] >= v (a sorted ascending)."""
    cdef Py_ssize_t mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] < v:
            lo = mid + 1
        else:
            hi = mid
    return lo
