"""Hot-path benchmarks: batch Ed25519, stamp encoders, parsing, issuance, bulk verification.

Each kernel runs beside the baseline a user would write (a Python loop over PyNaCl, over
``base64.b32encode``, over ``blake3``), single- and multi-threaded, and prints the ratio.
``ANTIFAKE_BENCH_ITEMS`` sets the batch size (default 1,000,000; CI smoke-runs a small value
with ``--benchmark-disable``). Signing and verification are also compared with libsodium's
own speed measured in the same run (``crypto_sign`` / ``crypto_sign_open`` in a bare C loop on one
thread) and with reference figures for this machine (67,700 signs/s, 24,300 verifies/s per core).

    python -m pytest benchmarks/test_bench_stamps.py -q -s
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time

import blake3
import nacl.signing
import numpy as np
import pytest

import antifake as af
from antifake import _core
from antifake import codes as C
from antifake.issue import random_serials

N = int(os.environ.get("ANTIFAKE_BENCH_ITEMS", "1000000"))
N_SIG = max(1000, N // 10)  # signatures are ~50,000x slower than hashes: keep runs short
N_BASE = max(1000, N // 20)  # Python-loop baselines run on a sample and are scaled
BASE = "https://xacthuc.example.vn/abc"
C_SIGN_PER_CORE = 67_700
C_VERIFY_PER_CORE = 24_300
CORES = os.cpu_count() or 1


def _rate(benchmark, n: int) -> float:
    stats = benchmark.stats
    if stats is None or not getattr(stats, "stats", None):  # --benchmark-disable
        return float("nan")
    return n / stats.stats.min


def _timed(fn, *args, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t)
    return best


def _report(benchmark, name: str, n: int, baseline_rate: float | None = None,
            limit: float | None = None, spec: float | None = None) -> None:
    rate = _rate(benchmark, n)
    benchmark.extra_info["items_per_s"] = rate
    parts = [f"{name}: {rate:,.0f}/s"]
    if baseline_rate:
        benchmark.extra_info["x_baseline"] = rate / baseline_rate
        parts.append(f"{rate / baseline_rate:.1f}x the Python baseline ({baseline_rate:,.0f}/s)")
    if limit:
        benchmark.extra_info["x_c_limit"] = rate / limit
        parts.append(f"{rate / limit:.2f}x the C limit measured now ({limit:,.0f}/s)")
    if spec:
        benchmark.extra_info["x_spec_c"] = rate / spec
        parts.append(f"{rate / spec:.2f}x the reference C figure ({spec:,.0f}/s)")
    print("\n  " + "; ".join(parts))


@pytest.fixture(scope="module")
def key() -> af.IssuerKey:
    return af.IssuerKey.generate("BENCH")


@pytest.fixture(scope="module")
def bodies(key: af.IssuerKey) -> np.ndarray:
    return _core.make_bodies(key.key_id, 0, 0, random_serials(N_SIG))


@pytest.fixture(scope="module")
def pynacl_sign_rate(key: af.IssuerKey, bodies: np.ndarray) -> float:
    sk = nacl.signing.SigningKey(key.secret_key_bytes()[:32])
    prefix = C.SIGN_CONTEXT + b"\x01\x00"
    rows = [prefix + b.tobytes() for b in bodies[:N_BASE // 4]]
    return len(rows) / _timed(lambda: [sk.sign(m).signature for m in rows], repeat=1)


@pytest.fixture(scope="module")
def c_sign_rate(key: af.IssuerKey) -> float:
    """libsodium ``crypto_sign`` in a bare C loop, one thread: this machine's limit now."""
    n = max(1000, N_SIG // 10)
    msg = C.SIGN_CONTEXT + b"\x01\x00" + bytes(16)
    return n / _timed(_core._c_sign_loop, key.secret_key_bytes(), msg, n)


@pytest.fixture(scope="module")
def c_verify_rate(key: af.IssuerKey) -> float:
    """libsodium ``crypto_sign_open`` in a bare C loop, one thread."""
    n = max(1000, N_SIG // 20)
    msg = C.SIGN_CONTEXT + b"\x01\x00" + bytes(16)
    signed = nacl.signing.SigningKey(key.secret_key_bytes()[:32]).sign(msg)
    assert _core._c_verify_loop(key.public.public_key, bytes(signed), 10) == 10
    return n / _timed(_core._c_verify_loop, key.public.public_key, bytes(signed), n)


@pytest.mark.parametrize("threads", [1, CORES], ids=lambda t: f"{t}thr")
def test_sign_many(benchmark, key, bodies, pynacl_sign_rate, c_sign_rate,
                   threads: int) -> None:
    prefix = C.SIGN_CONTEXT + b"\x01\x00"
    sigs = benchmark.pedantic(_core.ed25519_sign_many, args=(key.secret_key_bytes(), prefix,
                              bodies, b"", threads), rounds=3, iterations=1)
    assert sigs.shape == (N_SIG, 64)
    assert key.public.verify_detached(prefix + bodies[-1].tobytes(), sigs[-1].tobytes())
    _report(benchmark, f"Ed25519 sign, {threads} thread(s)", N_SIG, pynacl_sign_rate,
            c_sign_rate * threads, C_SIGN_PER_CORE * threads)


@pytest.mark.parametrize("threads", [1, CORES], ids=lambda t: f"{t}thr")
def test_verify_signatures_many(benchmark, key, bodies, c_verify_rate, threads: int) -> None:
    prefix = C.SIGN_CONTEXT + b"\x01\x00"
    sigs = _core.ed25519_sign_many(key.secret_key_bytes(), prefix, bodies, b"")
    n = bodies.shape[0]
    msgs = np.zeros((n, 32), dtype=np.uint8)
    msgs[:, :16] = np.frombuffer(prefix, dtype=np.uint8)
    msgs[:, 16:] = bodies
    pks = np.frombuffer(key.public.public_key, dtype=np.uint8).reshape(1, 32)
    slots, lens = np.zeros(n, dtype=np.int32), np.full(n, 32, dtype=np.int32)
    vk = nacl.signing.VerifyKey(key.public.public_key)
    sample = [(msgs[i].tobytes(), sigs[i].tobytes()) for i in range(min(n, N_BASE // 8))]
    base = len(sample) / _timed(lambda: [vk.verify(m, s) for m, s in sample], repeat=1)
    ok = benchmark.pedantic(_core.ed25519_verify_many, args=(pks, slots, msgs, lens, sigs,
                            threads), rounds=3, iterations=1)
    assert ok.all()
    _report(benchmark, f"Ed25519 verify, {threads} thread(s)", n, base,
            c_verify_rate * threads, C_VERIFY_PER_CORE * threads)


@pytest.mark.parametrize("threads", [1, CORES], ids=lambda t: f"{t}thr")
def test_number_tags(benchmark, key, threads: int) -> None:
    msgs = _core.number_messages(ord("N"), 1, key.key_id, 0, 0, N)
    tk = key.tag_key()
    sample = [m.tobytes() for m in msgs[:N_BASE]]
    base = len(sample) / _timed(lambda: [blake3.blake3(m, key=tk).digest(5) for m in sample])
    tags = benchmark.pedantic(_core.keyed_tags, args=(tk, msgs, 5, threads), rounds=5,
                              iterations=1)
    assert tags[7].tobytes() == blake3.blake3(msgs[7].tobytes(), key=tk).digest(5)
    _report(benchmark, f"keyed BLAKE3 tags, {threads} thread(s), "
            f"{_core.blake3_simd_level()}", N, base)


def _random_stamps(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """N random (body, signature) rows: the codec's speed does not depend on valid signatures."""
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (N, 16), dtype=np.uint8),
            rng.integers(0, 256, (N, 64), dtype=np.uint8))


@pytest.mark.parametrize("threads", [1, CORES], ids=lambda t: f"{t}thr")
def test_encode_codes(benchmark, threads: int) -> None:
    bodies, sigs = _random_stamps(1)
    raw = np.concatenate([bodies, sigs], axis=1)
    sample = [r.tobytes() for r in raw[:N_BASE]]
    base = len(sample) / _timed(lambda: [base64.b32encode(r) for r in sample])
    out = benchmark.pedantic(_core.encode_codes, args=(bodies, sigs, 1, threads), rounds=5,
                             iterations=1)
    assert out[3].decode() == C.encode_code(bodies[3].tobytes(), sigs[3].tobytes())
    _report(benchmark, f"encode 129-symbol codes, {threads} thread(s), "
            f"{_core.b32_simd_level()}{_scalar_rate(_core.encode_codes, bodies, sigs, 1, threads)}",
            N, base)


@pytest.mark.parametrize("threads", [1, CORES], ids=lambda t: f"{t}thr")
def test_parse_codes(benchmark, threads: int) -> None:
    bodies, sigs = _random_stamps(2)
    codes = _core.encode_codes(bodies, sigs, 1)
    texts = _core.to_str_array(codes)
    sample = [c for c in codes[:N_BASE]]
    base = len(sample) / _timed(lambda: [base64.b32decode(c[1:].translate(_TO_RFC))
                                         for c in sample])
    kind = benchmark.pedantic(lambda: _core.parse_texts(texts, threads)[0], rounds=5,
                              iterations=1)
    assert (kind == _core.K_CODE).all()
    _report(benchmark, f"parse 129-symbol codes, {threads} thread(s), "
            f"{_core.b32_simd_level()}{_scalar_rate(_core.parse_texts, texts, threads)}",
            N, base)


@pytest.mark.parametrize("threads", [1, CORES], ids=lambda t: f"{t}thr")
def test_parse_urls(benchmark, threads: int) -> None:
    """QR URLs (30-character base, 160 characters), the form verify_many sees most."""
    bodies, sigs = _random_stamps(3)
    urls = _core.to_str_array(_core.encode_codes(bodies, sigs, 1), BASE + "/")
    sample = urls[:N_BASE].tolist()
    base = len(sample) / _timed(lambda: [C.parse(u) for u in sample])
    kind = benchmark.pedantic(lambda: _core.parse_texts(urls, threads)[0], rounds=5,
                              iterations=1)
    assert (kind == _core.K_CODE).all()
    _report(benchmark, f"parse QR URLs, {threads} thread(s), "
            f"{_core.b32_simd_level()}{_scalar_rate(_core.parse_texts, urls, threads)}", N, base)


def _scalar_rate(fn, *args) -> str:
    """The same call at the scalar level (best of 3), for the report line."""
    if _core.b32_simd_level() == "scalar":
        return ""
    before = _core.b32_simd_level()
    _core.b32_set_simd_level("scalar")
    try:
        rate = N / _timed(fn, *args)
    finally:
        _core.b32_set_simd_level(before)
    return f" (scalar level {rate / 1e6:.1f} M/s)"


_TO_RFC = bytes.maketrans(C.ALPHABET.encode(), b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


def test_issue_signed_stamps(benchmark, key, c_sign_rate) -> None:
    """issue(): serials, bodies, signatures (all cores), fingerprints and the manifest."""
    n = N
    batch = benchmark.pedantic(af.issue, args=(key, n), rounds=1, iterations=1)
    assert len(batch) == n
    rate = _rate(benchmark, n)
    floor = n / (c_sign_rate * CORES)
    print(f"\n  issue {n:,} signed stamps: {n / rate if rate == rate else float('nan'):.2f} s "
          f"(target <= 10 s per 1 M on 2 cores); the signatures alone at libsodium's speed "
          f"measured now ({c_sign_rate:,.0f}/s per core, {CORES} cores): {floor:.2f} s")


def test_issue_stages(benchmark, key, c_sign_rate) -> None:
    """Where issue()'s time goes: each stage of it timed alone on N stamps (all cores)."""
    from antifake.issue import _sign
    from antifake.manifest import FINGERPRINT_KEY, Manifest

    stages: dict[str, float] = {}
    issued_at = af.issue(key, 1).issued_at

    def run() -> None:
        t = time.perf_counter()
        serials = random_serials(N)
        stages["serials"] = time.perf_counter() - t
        t = time.perf_counter()
        bodies = _core.make_bodies(key.key_id, 7, 0, serials)
        stages["bodies"] = time.perf_counter() - t
        t = time.perf_counter()
        sigs = _sign(key, bodies, None, None)
        stages["signatures"] = time.perf_counter() - t
        t = time.perf_counter()
        fps = _core.fingerprints(FINGERPRINT_KEY, bodies, sigs, None)
        stages["fingerprints"] = time.perf_counter() - t
        t = time.perf_counter()
        Manifest.build(key, 7, issued_at, None, fps)
        stages["manifest"] = time.perf_counter() - t

    benchmark.pedantic(run, rounds=1, iterations=1)
    total = sum(stages.values())
    assert set(stages) == {"serials", "bodies", "signatures", "fingerprints", "manifest"}
    print(f"\n  issue {N:,} stamps by stage ({total:.2f} s): " + ", ".join(
        f"{k} {v:.3f} s ({v / total:.1%})" for k, v in stages.items()))
    print(f"  signatures: {N / stages['signatures']:,.0f}/s on {CORES} thread(s); libsodium "
          f"measured now {c_sign_rate:,.0f}/s per core: floor {N / (c_sign_rate * CORES):.2f} s")


def test_issue_peak_memory() -> None:
    """Peak RSS of a fresh process issuing N stamps (target <= 500 MB per 1 M)."""
    # VmHWM, not ru_maxrss: the latter survives exec and would report pytest's own peak
    hwm = ("[int(line.split()[1]) for line in open('/proc/self/status') "
           "if line.startswith('VmHWM')][0]")
    code = f"import antifake as af; k = af.IssuerKey.generate('M'); b = af.issue(k, {N}); " \
           f"print({hwm})"
    base_code = f"import antifake as af; print({hwm})"
    peak = int(subprocess.check_output([sys.executable, "-c", code]).decode()) / 1024
    idle = int(subprocess.check_output([sys.executable, "-c", base_code]).decode()) / 1024
    print(f"\n  issue {N:,}: peak RSS {peak:.0f} MB (interpreter + numpy + antifake alone: "
          f"{idle:.0f} MB)")
    assert peak < 500 * max(1, N / 1_000_000) + idle


@pytest.fixture(scope="module")
def big_batch(key) -> af.Batch:
    return af.issue(key, N)


@pytest.mark.parametrize("form", ["url", "number"])
def test_verify_many_with_manifest(benchmark, key, big_batch, form: str) -> None:
    """verify_many over N codes with the batch's manifest held (target <= 1 s per 1 M)."""
    ring = af.Keyring([key])
    ring.add_manifest(big_batch.manifest)
    texts = big_batch.urls(BASE) if form == "url" else big_batch.numbers()
    sample = texts[: N_BASE // 10]
    base = len(sample) / _timed(lambda: [af.verify(t, ring) for t in sample], repeat=1)
    res = benchmark.pedantic(af.verify_many, args=(texts, ring), rounds=3, iterations=1)
    assert res.ok.all()
    _report(benchmark, f"verify_many {form}s with manifest", N, base)


def _peak_rss_mb(code: str) -> float:
    """Peak RSS (MB) of a fresh interpreter running ``code``, from ``resource.getrusage``.

    A small launcher runs the job as its own child and reads ``RUSAGE_CHILDREN``: the figure
    then cannot include the peak of this (large) pytest process, which a child's own
    ``ru_maxrss`` would inherit across fork and exec."""
    launcher = ("import resource, subprocess, sys; "
                f"subprocess.run([sys.executable, '-c', {code!r}], check=True); "
                "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    return int(subprocess.check_output([sys.executable, "-c", launcher]).decode()) / 1024


@pytest.mark.parametrize("form", ["plain", "gs1"])
def test_issue_and_urls_peak_memory(form: str) -> None:
    """Peak RSS of a fresh process issuing N stamps and building their URL array: the whole
    print job (target <= 500 MB per 1 M)."""
    product = ("product=af.Product(gtin='09521234543213', lot='L23', expiry='2027-12-31')"
               if form == "gs1" else "product=None")
    code = (f"import antifake as af; k = af.IssuerKey.generate('M'); b = af.issue(k, {N}, "
            f"{product}); u = b.urls({BASE!r}); assert len(u) == {N}")
    peak = _peak_rss_mb(code)
    idle = _peak_rss_mb("import antifake")
    print(f"\n  issue {N:,} ({form}) + urls: peak RSS {peak:.0f} MB (interpreter + numpy + "
          f"antifake alone: {idle:.0f} MB)")
    assert peak < 500 * max(1, N / 1_000_000) + idle


def _number_forms(numbers: np.ndarray) -> dict[str, np.ndarray]:
    """The same numbers as people type them: grouped, bare, lower case with I/L/O confusions."""
    grouped = numbers.tolist()
    bare = [t.replace("-", "") for t in grouped]
    sloppy = [t.lower().replace("1", "l").replace("0", "o") for t in bare]
    return {"grouped": np.array(grouped, dtype=object), "bare": np.array(bare, dtype=object),
            "lower-confused": np.array(sloppy, dtype=object)}


@pytest.mark.parametrize("form", ["grouped", "bare", "lower-confused"])
def test_verify_many_numbers_vs_blake3(benchmark, key, big_batch, form: str) -> None:
    """verify_many over stamp numbers end to end (parse, tag check, manifest) against a bare
    Python loop of keyed ``blake3`` tags over the same messages (target >= 3x)."""
    ring = af.Keyring([key])
    ring.add_manifest(big_batch.manifest)
    texts = _number_forms(big_batch.numbers())[form]
    msgs = C.tag_messages(np.full(N, key.key_id, np.int32),
                          np.full(N, big_batch.batch_id, np.int64), np.arange(N, dtype=np.int64))
    tk = key.tag_key()
    sample = [m.tobytes() for m in msgs[:N_BASE]]
    base = len(sample) / _timed(lambda: [blake3.blake3(m, key=tk).digest(5) for m in sample])
    res = benchmark.pedantic(af.verify_many, args=(texts, ring), rounds=5, iterations=1)
    assert res.ok.all()
    assert (res.index == np.arange(N)).all()
    _report(benchmark, f"verify_many stamp numbers ({form}) vs the keyed blake3 loop", N, base)


@pytest.fixture(scope="module")
def gs1_batch(key) -> af.Batch:
    return af.issue(key, max(1000, N // 4),
                    product=af.Product(gtin="09521234543213", lot="L23", expiry="2027-12-31"))


def test_verify_many_gs1_urls(benchmark, key, gs1_batch) -> None:
    """GS1 Digital Link URLs (lot, expiry, s= signature) with the batch's manifest held
    (target >= 1 M/s)."""
    ring = af.Keyring([key.public])
    ring.add_manifest(gs1_batch.manifest)
    urls = gs1_batch.urls(BASE)
    n = len(urls)
    sample = urls[: N_BASE // 10].tolist()
    base = len(sample) / _timed(lambda: [af.verify(t, ring) for t in sample], repeat=1)
    res = benchmark.pedantic(af.verify_many, args=(urls, ring), rounds=5, iterations=1)
    assert res.ok.all()
    _report(benchmark, "verify_many GS1 Digital Link URLs with manifest", n, base)
