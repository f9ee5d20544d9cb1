"""RFC 9162 Merkle trees: transparency-dev's vectors, proofs against a naive tree, bad input.

The vectors live in ``shared/conformance/merkle`` (found as in test_event_hash_conformance):
every happy path must be accepted and every mutation refused.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random

import pytest

import antifake as af
from antifake.log import merkle as M
from antifake.log._native import hash_pairs, hash_pairs_py
from conformance import conformance_dir

MERKLE = conformance_dir() / "merkle"
INCLUSION = sorted((MERKLE / "inclusion").glob("*/*.json")) if MERKLE.is_dir() else []
CONSISTENCY = sorted((MERKLE / "consistency").glob("*/*.json")) if MERKLE.is_dir() else []


def _require() -> None:
    if not MERKLE.is_dir():
        msg = f"merkle vectors not found at {MERKLE} (set ANTIFAKE_CONFORMANCE)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


def _b(s: str | None) -> bytes:
    return base64.b64decode(s) if s else b""


def _proof(p: list[str] | None) -> list[bytes]:
    return [_b(x) for x in p or []]


def test_vectors_present() -> None:
    _require()
    assert len(INCLUSION) >= 50 and len(CONSISTENCY) >= 50


@pytest.mark.parametrize("path", INCLUSION, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_inclusion_vectors(path) -> None:
    v = json.loads(path.read_text())
    got = af.log.verify_inclusion(_b(v["leafHash"]), v["leafIdx"], v["treeSize"],
                                  _proof(v["proof"]), _b(v["root"]))
    assert got is (not v["wantErr"]), v["desc"]


@pytest.mark.parametrize("path", CONSISTENCY, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_consistency_vectors(path) -> None:
    v = json.loads(path.read_text())
    got = af.log.verify_consistency(v["size1"], _b(v["root1"]), v["size2"], _b(v["root2"]),
                                    _proof(v["proof"]))
    assert got is (not v["wantErr"]), v["desc"]


def test_happy_paths_are_reproduced_by_our_generator() -> None:
    """The RFC 6962 test tree's leaves give the vectors' roots and proofs."""
    _require()
    leaves = [b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43",
              b"\x50\x51\x52\x53\x54\x55\x56\x57",
              b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f"]
    tree = M.MemoryTree()
    for d in leaves:
        tree.append(d)
    n = 0
    for path in INCLUSION:
        if path.stem != "happy-path":
            continue
        v = json.loads(path.read_text())
        assert tree.root(v["treeSize"]) == _b(v["root"])
        p = M.inclusion_proof(tree, v["leafIdx"], v["treeSize"])
        assert p.hashes == _proof(v["proof"])
        n += 1
    for path in CONSISTENCY:
        if path.stem != "happy-path":
            continue
        v = json.loads(path.read_text())
        q = M.consistency_proof(tree, v["size1"], v["size2"])
        assert q.hashes == _proof(v["proof"])
        n += 1
    assert n >= 10


def _naive_root(hashes: list[bytes]) -> bytes:
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return M.node_hash(_naive_root(hashes[:k]), _naive_root(hashes[k:]))


def test_every_proof_of_small_trees_verifies_and_mutations_fail() -> None:
    rng = random.Random(7)
    data = [rng.randbytes(rng.randrange(0, 40)) for _ in range(70)]
    lh = [M.leaf_hash(d) for d in data]
    tree = M.MemoryTree(b"".join(lh))
    roots = [_naive_root(lh[:n]) for n in range(71)]
    for n in range(0, 71):
        assert tree.root(n) == roots[n]
    for n in range(1, 71):
        for i in range(n):
            p = M.inclusion_proof(tree, i, n)
            assert M.verify_inclusion(lh[i], i, n, p.hashes, roots[n])
            if p.hashes:
                bad = list(p.hashes)
                bad[-1] = bytes([bad[-1][0] ^ 1]) + bad[-1][1:]
                assert not M.verify_inclusion(lh[i], i, n, bad, roots[n])
                assert not M.verify_inclusion(lh[i], i, n, p.hashes[:-1], roots[n])
            assert not M.verify_inclusion(lh[i], i, n, [*p.hashes, lh[0]], roots[n])
        for m in range(0, n + 1):
            q = M.consistency_proof(tree, m, n)
            assert M.verify_consistency(m, roots[m], n, roots[n], q.hashes), (m, n)
            if 0 < m < n:
                assert not M.verify_consistency(m, roots[m], n, roots[n], q.hashes[:-1])
                assert not M.verify_consistency(m, roots[n], n, roots[n], q.hashes)


@pytest.mark.parametrize("args", [
    (b"x" * 32, 0, 1, [], b"x" * 31),
    (b"x" * 33, 0, 1, [], b"x" * 32),
    (b"x" * 32, -1, 1, [], b"x" * 32),
    (b"x" * 32, 0, 0, [], b"x" * 32),
    (b"x" * 32, 1 << 80, 1 << 81, [], b"x" * 32),
    (b"x" * 32, 0, 2, [b"y" * 31], b"x" * 32),
    (b"x" * 32, 0, 1 << 64, [b"y" * 32] * 200, b"x" * 32),
])
def test_inclusion_bad_values_are_false(args) -> None:
    assert M.verify_inclusion(*args) is False


@pytest.mark.parametrize("args", [
    ("x" * 32, 0, 1, [], b"x" * 32),
    (b"x" * 32, 0.0, 1, [], b"x" * 32),
    (b"x" * 32, True, 1, [], b"x" * 32),
    (b"x" * 32, 0, 1, "abc", b"x" * 32),
    (b"x" * 32, 0, 1, [None], b"x" * 32),
    (None, 0, 1, [], b"x" * 32),
])
def test_inclusion_bad_types_raise_format_error(args) -> None:
    with pytest.raises(af.FormatError):
        M.verify_inclusion(*args)


def test_consistency_bad_input() -> None:
    r = b"r" * 32
    assert M.verify_consistency(2, r, 1, r, []) is False
    assert M.verify_consistency(-1, r, 1, r, []) is False
    assert M.verify_consistency(1, r, 1 << 70, r, [r]) is False
    assert M.verify_consistency(1, r[:5], 2, r, [r]) is False
    assert M.verify_consistency(3, r, 3, r, [r]) is False
    assert M.verify_consistency(0, r, 3, r, []) is False  # from the empty tree: its root
    assert M.verify_consistency(0, M.EMPTY_ROOT, 3, r, []) is True
    with pytest.raises(af.FormatError):
        M.verify_consistency(1, r, 2, r, r)
    with pytest.raises(af.FormatError):
        M.verify_consistency("1", r, 2, r, [r])


def test_generators_refuse_bad_arguments() -> None:
    tree = M.MemoryTree(M.leaf_hash(b"a") * 3)
    with pytest.raises(af.FormatError):
        M.inclusion_proof(tree, 3, 3)
    with pytest.raises(af.FormatError):
        M.consistency_proof(tree, 3, 2)
    with pytest.raises(af.FormatError):
        M.root_hash(tree, -1)
    with pytest.raises(af.FormatError):
        M.MemoryTree(b"x" * 33)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 64, 257])
def test_hash_pairs_matches_python(n: int) -> None:
    data = random.Random(n).randbytes(64 * n)
    assert hash_pairs(data) == hash_pairs_py(data)
    with pytest.raises(af.FormatError):
        hash_pairs(data + b"x")


@pytest.mark.parametrize("level", ["scalar", "shani"])
def test_native_sha256_matches_hashlib_for_every_length(level: str) -> None:
    from antifake import _core

    got = _core.sha256_set_level(level)
    try:
        rng = random.Random(256)
        for n in range(257):
            d = rng.randbytes(n)
            assert _core.sha256_digest(d) == hashlib.sha256(d).digest(), (got, n)
        pairs = rng.randbytes(64 * 300)
        assert bytes(_core.sha256_node_pairs(pairs)) == hash_pairs_py(pairs)
        assert bytes(_core.sha256_node_pairs(b"")) == b""
        with pytest.raises(ValueError):
            _core.sha256_node_pairs(b"x" * 65)
    finally:
        _core.sha256_set_level("auto")
    with pytest.raises(ValueError):
        _core.sha256_set_level("avx9000")


def test_native_kernel_is_used() -> None:
    from antifake.log import _native

    assert _native.NATIVE
