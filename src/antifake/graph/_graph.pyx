# cython: language_level=3
"""Trace-graph kernels over CSR snapshots.

The Python layer (`antifake.graph`) validates every array and every id before it
reaches these functions; the kernels still check node ids at their border and raise
``IndexError`` rather than read out of bounds. Loops run without the GIL.

Vocabulary
----------
rank
    position of an event in (time, input index) order; every interval below is over ranks.
own events
    the events whose incidence rows name a node, or whose aggregation parent it is.
link
    one stay of a child inside a parent: ranks ``[start, end)``. A stay opened by an
    AGGREGATE at rank ``a`` starts at ``a``; one closed by a DISAGGREGATE at rank ``d`` ends at
    ``d + 1`` (the unpacking is part of the stay); one closed because the child was packed
    somewhere else at rank ``m`` ends at ``m``; a stay still open ends at ``n_events``.
custody segment
    ``(start rank, party)``: the node's custodian from that rank until the next segment.

The kernels are in three includes: `_buffers.pxi` (growable buffers, sorted-array helpers),
`_build.pxi` (event order, incidence, replay of custody and containment) and `_queries.pxi`
(the per-query kernels of `Kernels`).
"""

from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t
from libc.stdlib cimport free, malloc, qsort, realloc
from libc.string cimport memcpy
from cpython.object cimport PyObject, PyObject_Hash, PyObject_RichCompareBool, Py_EQ

import numpy as np

cimport numpy as cnp

cnp.import_array()

# event kinds (antifake.epcis.kinds.EventKind), generated from that module at build time
include "_vocab.pxi"

# custody codes per event (computed by the Python layer): NO_CHANGE, or the new custodian
# (-1 = nobody / unknown, as after a sale to a consumer)
DEF NO_CHANGE = -2


include "_buffers.pxi"
include "_build.pxi"
include "_queries.pxi"
