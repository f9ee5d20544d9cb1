# cython: language_level=3
"""Native kernels of antifake: base32 codec, BLAKE3 single-chunk hashing, batch Ed25519.

Every bulk function takes and returns numpy arrays, checks lengths at the border and runs its
loop without the GIL. The pure-Python API in the sibling modules is the public face.
"""

from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t
from libc.string cimport memcpy, memset
import numpy as np
cimport numpy as cnp

cnp.import_array()

include "_blake3.pxi"
