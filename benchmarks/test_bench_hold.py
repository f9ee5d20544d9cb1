"""What holding the input costs `verify_many`: the rows are taken into a private array with the
GIL held (`_core.hold_texts`) before the GIL-free parser runs, so another thread cannot free a
row under it. Measured beside the snapshot a user would write (``list(arr)``, references only)
and beside the parse itself, per row, for an object array, a list and an "S" array of QR URLs.
``ANTIFAKE_BENCH_ITEMS`` sets the row count (default 1,000,000).

    python -m pytest benchmarks/test_bench_hold.py -q -s
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

import antifake as af
from antifake import _core

N = int(os.environ.get("ANTIFAKE_BENCH_ITEMS", "1000000"))
BASE = "https://xacthuc.example.vn/abc"


def _best(fn, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


@pytest.fixture(scope="module")
def urls() -> np.ndarray:
    key = af.IssuerKey.generate("VN-BENCH")
    return af.issue(key, N).urls(BASE)


@pytest.mark.parametrize("form", ["object array", "list", "S array"])
def test_hold_cost(benchmark, urls: np.ndarray, form: str) -> None:
    texts = {"object array": lambda: urls, "list": lambda: list(urls),
             "S array": lambda: np.array([u.encode() for u in urls], dtype="S")}[form]()
    held = benchmark(_core.hold_texts, texts)
    assert len(held) == N and held[0] == texts[0]
    n = len(texts)
    t_hold = _best(lambda: _core.hold_texts(texts))
    t_user = _best(lambda: list(texts))
    t_parse = _best(lambda: _core._parse_held(held, 1))
    t_all = _best(lambda: _core.parse_texts(texts, 1))
    print(f"\n{form}: hold {t_hold / n * 1e9:.1f} ns/row (list(arr) {t_user / n * 1e9:.1f}, "
          f"ratio {t_user / t_hold:.2f}x), parse {t_parse / n * 1e9:.1f} ns/row, "
          f"parse_texts {t_all / n * 1e9:.1f} ns/row: holding is "
          f"{t_hold / t_all:.0%} of the parse")
