"""verify_many holds what it reads: another thread mutating the input during the call can
neither crash the process nor turn a row that never held a genuine code AUTHENTIC."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import antifake as af
from antifake import _core
from conftest import BASE


@pytest.mark.parametrize("kind", ["object", "list", "bytes"])
def test_mutating_the_input_from_another_thread(kind: str) -> None:
    key = af.IssuerKey.generate("VN-A")
    b = af.issue(key, 2000)
    ring = af.Keyring([key.public])
    ring.add_manifest(b.manifest)
    urls = b.urls(BASE)
    n = 200_000  # at 20k rows the race window was too small to hit the old code reliably
    genuine = [str(urls[i % len(urls)]) for i in range(n)]
    if kind == "bytes":
        genuine = [g.encode() for g in genuine]
    even = np.arange(n) % 2 == 0

    # odd rows never hold a code of a trusted key: genuine codes of a stranger's key (cheap
    # to judge, UNKNOWN_KEY, so the call spends its time parsing, where the race was)
    stranger = af.issue(af.IssuerKey.generate("VN-X", key_id=(key.key_id + 1) % 65536), 100)
    alien = [str(u) if kind != "bytes" else str(u).encode() for u in stranger.urls(BASE)]

    def initial() -> list:
        return [genuine[i] if i % 2 == 0 else alien[i % 100] for i in range(n)]

    data: list | np.ndarray = initial()
    if kind == "object":
        data = np.array(data, dtype=object)
    stop = threading.Event()

    def mutate() -> None:
        k = 0
        while not stop.is_set():
            k += 1
            # new objects each time, held by nothing but the input: the next assignment
            # frees them (while the kernel may be reading them, before the fix)
            if kind == "bytes":
                data[:] = [(f"{k}-{i}-" + "x" * 150).encode() for i in range(n)]
            else:
                data[:] = [f"{k}-{i}-" + "x" * 150 for i in range(n)]
            data[:] = initial()

    t = threading.Thread(target=mutate, daemon=True)
    t.start()
    try:
        for _ in range(12):
            res = af.verify_many(data, ring, threads=2)
            ok = res.status == af.Status.AUTHENTIC
            assert not ok[~even].any(), "a row that never held a genuine code was AUTHENTIC"
    finally:
        stop.set()
        t.join()


def test_the_held_copy_is_private() -> None:
    arr = np.array(["a", "b"], dtype=object)
    held = _core.hold_texts(arr)
    arr[0] = "changed"
    assert held.tolist() == ["a", "b"]
    s = np.array([b"xy", b"z"], dtype="S")
    held_s = _core.hold_texts(s)
    s[0] = b"qq"
    assert held_s.tolist() == [b"xy", b"z"]


def test_what_is_not_a_sequence_of_rows_is_a_typed_error() -> None:
    key = af.IssuerKey.generate("VN-A")
    ring = af.Keyring([key.public])
    bad = [np.array("abc", dtype=object), np.array(["a", "b"]).reshape(1, 2),
           {"a", "b"}, (x for x in ["a"]), {"a": 1}, "a single string", b"bytes", 42, None,
           iter(["a"])]
    for texts in bad:
        with pytest.raises(af.FormatError):
            af.verify_many(texts, ring)
    # unicode arrays and tuples are fine
    assert af.verify_many(np.array(["x", "y"]), ring).status.tolist() == [1, 1]
    assert af.verify_many(("x",), ring).status.tolist() == [1]


def test_pandas_series_read_by_position() -> None:
    pd = pytest.importorskip("pandas")
    key = af.IssuerKey.generate("VN-A")
    b = af.issue(key, 3)
    ring = af.Keyring([key.public])
    urls = [str(u) for u in b.urls(BASE)]
    series = pd.Series(["junk", urls[0], urls[1]], index=[2, 0, 1])
    res = af.verify_many(series, ring)
    assert res.status.tolist() == [af.Status.MALFORMED, 0, 0]
    assert res.index.tolist() == [-1, 0, 1]
