# Detection kernels (included by _detect.pyx): alert kinds, flags, the structs the kernels
# share and small geometry and time helpers.

# alert kinds (antifake.detect.KINDS order)
cdef enum:
    A_TRAVEL = 0
    A_OVER = 1
    A_DIVERSION = 2
    A_UNAUTH = 3
    A_INACTIVE = 4
    A_ORDER = 5
    A_LOCKOUT = 6
    A_DUPLICATE = 7
    N_KINDS = 8

# aux bits (why a rule fired): _aux.pxi, generated from antifake/detect/_aux.py

# screen: node flags
cdef enum:
    F_CAND = 1
    F_OBSERVED = 2
    F_ANCHOR = 4
    F_SALE_SEEN = 8
    F_AGG_CHILD = 16

# screen: row flags (in PRow.det, above the detail code)
cdef enum:
    P_LOCATED = 0x80
    P_PARENT = 0x40
    P_DETAIL = 0x3F

cdef uint32_t NONE_S = 4294967295u
cdef uint32_t SEC_CAP = 4294967280u
cdef int64_t SEC_SPAN = 4294967040
DEF EARTH_KM = 6371.0088
DEF KM_PER_DEG = 111.19508
DEF DEG = 0.017453292519943295
DEF MAX_STACK = 64
DEF BUCKET_BITS = 13


cdef struct EvRec:
    # one event's fields packed in 32 bytes (input order): one cache line per visit
    int64_t t
    float lat
    float lon
    int32_t by
    int32_t dst
    uint8_t kind
    uint8_t detail
    uint8_t located     # a scan, claim or sale with coordinates
    uint8_t pad0
    int32_t pad1


cdef struct PRow:
    # one incidence (or aggregation-parent) row as the screen sees it: 20 bytes
    uint16_t off        # node - bucket start
    uint8_t kind
    uint8_t det         # detail code | P_LOCATED | P_PARENT
    int32_t by
    uint32_t ts         # time in units of 2**t_shift us from t_base
    float lat
    float lon


cdef struct NodeState:
    float lat
    float lon
    float coslat
    int32_t first
    int32_t last
    uint32_t comm_s     # first commissioning (NONE_S: none)
    uint32_t min_s      # earliest other own event
    uint32_t ok_claim_s # earliest successful claim
    uint32_t sell_s     # latest sale
    uint32_t ship_s     # latest shipment
    uint32_t recv_s     # earliest receipt
    uint16_t cnt        # located scans and claims
    uint8_t flags
    uint8_t n_claims
    uint8_t n_sells
    uint8_t pad0
    uint16_t pad1


cdef struct Ctx:
    # events, input order
    const EvRec* ev     # packed copy (NULL until built): analyse reads it when present
    const int64_t* ev_time
    const uint8_t* ev_kind
    const int32_t* ev_by
    const int32_t* ev_dst
    const int64_t* ev_parent
    const double* ev_lat
    const double* ev_lon
    const uint8_t* ev_detail
    Py_ssize_t n_events
    int64_t t_base
    int t_shift
    # snapshot
    const int32_t* order
    const int64_t* own_ptr
    const int32_t* own_rank
    const int64_t* seg_ptr
    const int32_t* seg_start
    const int32_t* seg_party
    const int64_t* lk_ptr
    const int32_t* lk_parent
    const int32_t* lk_start
    const int32_t* lk_end
    const uint8_t* node_item
    Py_ssize_t n_nodes
    # parties
    const double* p_lat
    const double* p_lon
    const int32_t* p_region
    const uint8_t* p_business   # 0 consumer, 1 business, 2 upstream (maker, wholesale), 3 shop
    const int32_t* p_home       # a phone's home region (-1 unknown); NULL: phones not used
    const double* r_lat         # regions' centres (NaN: unknown)
    const double* r_lon
    int n_regions
    const uint64_t* reg_far     # per region: bit r set when region r's centre is farther
                                # than phone_home_km (NULL: more than 64 regions)
    Py_ssize_t n_parties
    # regions: a grid of region ids (-1 outside every region); have_regions = 0: unknown
    const int16_t* grid
    int grid_nlat
    int grid_nlon
    double grid_lat0
    double grid_lon0
    double grid_inv
    int have_regions
    # configuration
    double far_km
    double travel_km
    double travel_kmh
    double travel_overhead_h
    double location_km
    int64_t skew_us
    double phone_clock_h
    double phone_home_km
    double gap_reach_km
    int phone_scanners
    int max_scanners
    int weak_scanners
    int far_scanners
    int max_wrong
    int max_ev
    int32_t kinds_mask


cdef struct Rec:
    int32_t node
    int32_t kind
    float score
    int32_t aux
    int64_t first
    int64_t last
    int64_t ev_off
    int32_t ev_n
    int32_t pad


cdef struct Out:
    Rec* recs
    Py_ssize_t n_recs
    Py_ssize_t cap_recs
    int32_t* ev
    Py_ssize_t n_ev
    Py_ssize_t cap_ev
    int failed


cdef inline bint valid_ll(double lat, double lon) noexcept nogil:
    return fabs(lat) <= 90.0 and fabs(lon) <= 180.0


cdef inline double haversine(double lat1, double lon1, double lat2, double lon2) noexcept nogil:
    cdef double s1 = sin((lat2 - lat1) * DEG * 0.5)
    cdef double s2 = sin((lon2 - lon1) * DEG * 0.5)
    cdef double a = s1 * s1 + cos(lat1 * DEG) * cos(lat2 * DEG) * s2 * s2
    if a > 1.0:
        a = 1.0
    return 2.0 * EARTH_KM * asin(sqrt(a))


cdef inline int32_t grid_region(const int16_t* grid, int nlat, int nlon, double lat0,
                                double lon0, double inv, double lat, double lon) noexcept nogil:
    """Region id of a point on a region grid: -1 outside every region."""
    cdef double fi = floor((lat - lat0) * inv)
    cdef double fj = floor((lon - lon0) * inv)
    if fi < 0 or fj < 0 or fi >= nlat or fj >= nlon:
        return -1
    return grid[<Py_ssize_t>fi * nlon + <Py_ssize_t>fj]


cdef inline int32_t region_of(const Ctx* c, double lat, double lon) noexcept nogil:
    """Region id of a point: -1 outside every known region, -2 when no region is known."""
    if not c.have_regions:
        return -2
    return grid_region(c.grid, c.grid_nlat, c.grid_nlon, c.grid_lat0, c.grid_lon0, c.grid_inv,
                       lat, lon)


cdef inline bint consumer_act(const Ctx* c, const Ev* x) noexcept nogil:
    """A scan or claim by a consumer (a phone: a party that is no business)."""
    return (x.kind == K_SCAN or x.kind == K_CLAIM) and x.by >= 0 and c.p_business[x.by] == 0


cdef inline uint32_t secs(const Ctx* c, int64_t t) noexcept nogil:
    cdef int64_t v = (t - c.t_base) >> c.t_shift
    if v < 0:
        return 0
    if v > SEC_CAP:
        return SEC_CAP
    return <uint32_t>v


cdef inline uint8_t ev_kind(const Ctx* c, int64_t e) noexcept nogil:
    return c.ev[e].kind if c.ev != NULL else c.ev_kind[e]
