"""The BLAKE3 single-chunk kernel of antifake._core against the `blake3` package.

Every SIMD level the CPU has (scalar, avx2, avx512) is checked on every length 0..130 and on
samples up to the 1024-byte chunk limit, plain and keyed, with batch sizes that are not multiples
of the 8 / 16 lanes, padded rows, every digest length and several threads.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import sys
import threading

import blake3
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antifake import _core

LEVEL_NAMES = ("scalar", "avx2", "avx512")


def _available_levels() -> list[str]:
    before = _core.blake3_simd_level()
    top = _core.blake3_set_simd_level("avx512")
    _core.blake3_set_simd_level(before)
    return list(LEVEL_NAMES[: LEVEL_NAMES.index(top) + 1])


LEVELS = _available_levels()


@pytest.fixture(params=LEVELS)
def level(request):
    """Run the test at one SIMD level, restoring the default level afterwards."""
    before = _core.blake3_simd_level()
    assert _core.blake3_set_simd_level(request.param) == request.param
    assert _core.blake3_simd_level() == request.param
    yield request.param
    _core.blake3_set_simd_level(before)


def ref(data: bytes, key: bytes | None, out_len: int = 32) -> bytes:
    h = blake3.blake3(data, key=key) if key is not None else blake3.blake3(data)
    return h.digest(out_len)


def ref_rows(arr: np.ndarray, length: int, key: bytes | None, out_len: int) -> np.ndarray:
    rows = [ref(arr[i, :length].tobytes(), key, out_len) for i in range(arr.shape[0])]
    return np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(arr.shape[0], out_len)


def rand_rows(rng: np.random.Generator, n: int, stride: int) -> np.ndarray:
    return rng.integers(0, 256, size=(n, stride), dtype=np.uint8)


# ---- levels ---------------------------------------------------------------------------------


def test_simd_level_names_and_clamping():
    levels = _available_levels()
    assert levels[0] == "scalar"
    default = _core.blake3_simd_level()
    assert default == levels[-1]  # the widest level is the default
    try:
        assert _core.blake3_set_simd_level("scalar") == "scalar"
        assert _core.blake3_simd_level() == "scalar"
        # Asking for more than the CPU has gives the most it has, never more.
        assert _core.blake3_set_simd_level("avx512") == levels[-1]
        with pytest.raises(ValueError):
            _core.blake3_set_simd_level("sse9")
    finally:
        _core.blake3_set_simd_level(default)
    assert _core.blake3_simd_level() == default


def test_x86_with_avx2_uses_simd():
    flags = ""
    if sys.platform.startswith("linux") and os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    if " avx2" not in flags:
        pytest.skip("CPU without AVX2 (or not Linux)")
    assert "avx2" in LEVELS
    if " avx512f" in flags:
        assert "avx512" in LEVELS


# ---- single messages ------------------------------------------------------------------------


def test_known_answers():
    # Official BLAKE3 test vector inputs: bytes i % 251.
    data = bytes(i % 251 for i in range(1024))
    assert _core.blake3_hash(b"").hex() == (
        "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
    )
    assert _core.blake3_hash(data[:1023]).hex() == (
        "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11"
    )
    assert _core.blake3_hash(data) == ref(data, None)


def test_hash_every_length_plain_and_keyed():
    rng = np.random.default_rng(1)
    for length in range(0, 1025):
        data = rng.bytes(length)
        key = rng.bytes(32)
        assert _core.blake3_hash(data) == ref(data, None), length
        assert _core.blake3_hash(data, key) == ref(data, key), length
        assert _core.blake3_hash(data, key=key, out_len=5) == ref(data, key, 5), length


def test_hash_buffer_types_and_out_len():
    key = bytes(range(32))
    data = b"antifake stamp payload"
    want = ref(data, key)
    assert _core.blake3_hash(bytearray(data), bytearray(key)) == want
    assert _core.blake3_hash(memoryview(data), memoryview(key)) == want
    assert _core.blake3_hash(np.frombuffer(data, np.uint8), np.frombuffer(key, np.uint8)) == want
    for out_len in range(1, 33):
        got = _core.blake3_hash(data, key, out_len)
        assert isinstance(got, bytes)
        assert got == want[:out_len]


# ---- batches --------------------------------------------------------------------------------


def test_many_every_length_0_to_130(level):
    rng = np.random.default_rng(2)
    for length in range(0, 131):
        for n, pad in ((9, 0), (17, 3)):
            arr = rand_rows(rng, n, length + pad)
            key = rng.bytes(32) if length % 2 else None
            out_len = int(rng.integers(1, 33))
            got = _core.blake3_many(arr, length, key=key, out_len=out_len)
            assert got.shape == (n, out_len) and got.dtype == np.uint8
            np.testing.assert_array_equal(
                got, ref_rows(arr, length, key, out_len), err_msg=f"{level} len={length} n={n}"
            )


def test_many_sampled_lengths_to_1024(level):
    rng = np.random.default_rng(3)
    lengths = sorted({*range(127, 1025, 64), *range(128, 1025, 64), *range(129, 1025, 64),
                      *(int(x) for x in rng.integers(131, 1025, 30)), 1023, 1024})
    for length in lengths:
        n = int(rng.choice([1, 7, 8, 9, 17, 33]))
        arr = rand_rows(rng, n, length + int(rng.integers(0, 9)))
        key = rng.bytes(32) if length % 3 else None
        got = _core.blake3_many(arr, length, key=key)
        np.testing.assert_array_equal(got, ref_rows(arr, length, key, 32), err_msg=str(length))


@pytest.mark.parametrize("n", [1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 1000])
@pytest.mark.parametrize("length", [0, 10, 32, 40, 64, 80, 96, 97])
def test_many_batch_sizes(level, n, length):
    rng = np.random.default_rng(n * 1000 + length)
    key = rng.bytes(32)
    arr = rand_rows(rng, n, length + 5)
    got = _core.blake3_many(arr, length, key=key, out_len=5)
    np.testing.assert_array_equal(got, ref_rows(arr, length, key, 5))


def test_many_every_out_len(level):
    rng = np.random.default_rng(4)
    key = rng.bytes(32)
    arr = rand_rows(rng, 19, 96)
    full = ref_rows(arr, 96, key, 32)
    for out_len in range(1, 33):
        got = _core.blake3_many(arr, 96, key=key, out_len=out_len)
        np.testing.assert_array_equal(got, full[:, :out_len])
        short = _core.blake3_many(arr, 10, key=key, out_len=out_len)
        np.testing.assert_array_equal(short, ref_rows(arr, 10, key, out_len))


def test_many_padding_bytes_are_ignored(level):
    rng = np.random.default_rng(5)
    arr = rand_rows(rng, 40, 64)
    clean = arr.copy()
    clean[:, 13:] = 0
    key = rng.bytes(32)
    np.testing.assert_array_equal(
        _core.blake3_many(arr, 13, key=key), _core.blake3_many(clean, 13, key=key)
    )
    np.testing.assert_array_equal(_core.blake3_many(arr, 13, key=key), ref_rows(arr, 13, key, 32))


def test_many_one_dimensional_and_bytes_input():
    rng = np.random.default_rng(6)
    key = rng.bytes(32)
    flat = rng.bytes(10 * 37)
    want = ref_rows(np.frombuffer(flat, np.uint8).reshape(37, 10), 10, key, 5)
    np.testing.assert_array_equal(_core.blake3_many(flat, 10, key=key, out_len=5), want)
    np.testing.assert_array_equal(_core.blake3_many(bytearray(flat), 10, key, 5), want)
    np.testing.assert_array_equal(_core.blake3_many(np.frombuffer(flat, np.uint8), 10, key, 5),
                                  want)
    # Read-only arrays are fine.
    ro = np.frombuffer(flat, np.uint8).reshape(37, 10)
    assert not ro.flags.writeable
    np.testing.assert_array_equal(_core.blake3_many(ro, 10, key, 5), want)


def test_many_empty_batch_and_empty_messages(level):
    out = _core.blake3_many(np.zeros((0, 16), np.uint8), 10, out_len=7)
    assert out.shape == (0, 7)
    out = _core.blake3_many(b"", 10)
    assert out.shape == (0, 32)
    empty = ref(b"", None)
    got = _core.blake3_many(np.zeros((21, 0), np.uint8), 0)
    assert all(bytes(row) == empty for row in got)
    key = bytes(range(32))
    got = _core.blake3_many(np.full((21, 3), 7, np.uint8), 0, key=key)
    assert all(bytes(row) == ref(b"", key) for row in got)


def _guarded_rows(n: int, stride: int) -> tuple[np.ndarray, mmap.mmap] | None:
    """A (n, stride) uint8 array ending exactly at a page followed by an inaccessible page."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    page = mmap.PAGESIZE
    size = n * stride
    pages = (size + page - 1) // page + 1
    buf = mmap.mmap(-1, pages * page, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    base = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    if libc.mprotect(base + (pages - 1) * page, page, 0) != 0:
        return None
    start = (pages - 1) * page - size
    arr = np.frombuffer(buf, dtype=np.uint8, count=size, offset=start).reshape(n, stride)
    return arr, buf


@pytest.mark.parametrize("length", [1, 3, 10, 31, 33, 63, 64, 65, 96, 97, 1024])
def test_many_never_reads_past_the_input(level, length):
    """Rows end at an unmapped page: any over-read by the SIMD loads would crash here."""
    rng = np.random.default_rng(length)
    for n in (1, 7, 8, 9, 16, 17, 40):
        guarded = _guarded_rows(n, length)
        if guarded is None:
            pytest.skip("needs Linux mprotect")
        arr, _buf = guarded
        arr[:] = rand_rows(rng, n, length)
        key = rng.bytes(32)
        np.testing.assert_array_equal(
            _core.blake3_many(arr, length, key=key, out_len=32), ref_rows(arr, length, key, 32)
        )
        del arr


# ---- threads --------------------------------------------------------------------------------


def test_threads_give_identical_results(level):
    rng = np.random.default_rng(7)
    key = rng.bytes(32)
    for length, n in ((10, 50_003), (96, 20_011)):
        arr = rand_rows(rng, n, length)
        one = _core.blake3_many(arr, length, key=key, out_len=5)
        for threads in (2, 3, 8):
            np.testing.assert_array_equal(
                _core.blake3_many(arr, length, key=key, out_len=5, threads=threads), one
            )
        sample = rng.choice(n, 200, replace=False)
        np.testing.assert_array_equal(one[sample], ref_rows(arr[sample], length, key, 5))
    # None means one thread per CPU.
    np.testing.assert_array_equal(
        _core.blake3_many(arr, length, key=key, out_len=5, threads=None), one
    )
    # Small batches with many threads requested are still right.
    arr = rand_rows(rng, 5, 10)
    np.testing.assert_array_equal(_core.blake3_many(arr, 10, key=key, threads=4),
                                  ref_rows(arr, 10, key, 32))


def test_concurrent_callers():
    rng = np.random.default_rng(8)
    key = rng.bytes(32)
    arr = rand_rows(rng, 30_000, 10)
    want = _core.blake3_many(arr, 10, key=key, out_len=8)
    errors: list[BaseException] = []

    def work():
        try:
            for _ in range(5):
                np.testing.assert_array_equal(
                    _core.blake3_many(arr, 10, key=key, out_len=8, threads=2), want
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors, errors


# ---- bad input ------------------------------------------------------------------------------


def test_bad_inputs_raise():
    ok = np.zeros((4, 16), np.uint8)
    key = bytes(32)
    many = _core.blake3_many
    with pytest.raises(ValueError):
        many(ok, -1)
    with pytest.raises(ValueError):
        many(np.zeros((4, 2048), np.uint8), 1025)
    with pytest.raises(ValueError):
        many(ok, 17)  # rows shorter than length
    with pytest.raises(ValueError):
        many(ok, 10, out_len=0)
    with pytest.raises(ValueError):
        many(ok, 10, out_len=33)
    with pytest.raises(ValueError):
        many(ok, 10, key=bytes(31))
    with pytest.raises(ValueError):
        many(ok, 10, key=bytes(33))
    with pytest.raises(TypeError):
        many(ok, 10, key="k" * 32)
    with pytest.raises(TypeError):
        many(ok, 10, key=32)
    with pytest.raises(ValueError):
        many(ok, 10, threads=0)
    with pytest.raises(TypeError):
        many(ok, 10, threads=1.5)
    with pytest.raises(ValueError):
        many(ok.astype(np.int32), 10)
    with pytest.raises(ValueError):
        many(np.zeros((4, 32), np.uint8)[:, ::2], 10)  # not C-contiguous
    with pytest.raises(ValueError):
        many(np.zeros((2, 2, 16), np.uint8), 10)
    with pytest.raises(ValueError):
        many(np.zeros(25, np.uint8), 10)  # not a whole number of messages
    with pytest.raises(ValueError):
        many(np.zeros(25, np.uint8), 0)
    with pytest.raises(TypeError):
        many([b"0123456789"], 10)
    with pytest.raises(ValueError):
        _core.blake3_hash(bytes(1025))
    with pytest.raises(ValueError):
        _core.blake3_hash(b"x", key, 0)
    with pytest.raises(ValueError):
        _core.blake3_hash(b"x", key, 33)
    with pytest.raises(ValueError):
        _core.blake3_hash(b"x", bytes(16))
    with pytest.raises(TypeError):
        _core.blake3_hash("text")
    with pytest.raises(TypeError):
        _core.blake3_hash(None)
    with pytest.raises(ValueError):
        _core.blake3_hash(np.zeros((4, 4), np.uint8)[:, ::2])


# ---- property -------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    length=st.one_of(st.integers(0, 130), st.integers(0, 1024)),
    n=st.integers(1, 40),
    pad=st.integers(0, 9),
    key=st.one_of(st.none(), st.binary(min_size=32, max_size=32)),
    out_len=st.integers(1, 32),
    level=st.sampled_from(LEVELS),
    threads=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_matches_blake3(length, n, pad, key, out_len, level, threads, seed):
    arr = rand_rows(np.random.default_rng(seed), n, length + pad)
    before = _core.blake3_simd_level()
    try:
        _core.blake3_set_simd_level(level)
        got = _core.blake3_many(arr, length, key=key, out_len=out_len, threads=threads)
    finally:
        _core.blake3_set_simd_level(before)
    np.testing.assert_array_equal(got, ref_rows(arr, length, key, out_len))
    assert _core.blake3_hash(arr[0, :length].tobytes(), key, out_len) == bytes(got[0])
