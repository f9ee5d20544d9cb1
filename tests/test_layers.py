"""The package's shape: no import cycle (lazy imports included), the layering contract kept,
and the kernels built from the one statement of the shared vocabulary."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import antifake
from antifake.epcis import kinds

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = Path(antifake.__file__).resolve().parent


def module_imports(root: Path) -> dict[str, set[str]]:
    """Every antifake module and the antifake modules it imports anywhere (functions too)."""
    mods: dict[str, Path] = {}
    for p in root.rglob("*.py"):
        parts = p.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        mods[name] = p
    for p in root.rglob("*.pyi"):  # a compiled module is a module of its own (its stub)
        if p.with_suffix(".pyx").exists():
            mods[".".join(p.relative_to(root.parent).with_suffix("").parts)] = p
    out: dict[str, set[str]] = {}
    for name, p in mods.items():
        pkg = name if p.name == "__init__.py" else name.rsplit(".", 1)[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    base = ".".join(up + ([node.module] if node.module else []))
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            for t in targets:
                while t and t not in mods:  # the nearest module that holds the name
                    t = t.rpartition(".")[0]
                if t and t != name and t != "antifake":
                    found.add(t)
        out[name] = found
    return out


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state and (c := visit(m)):
                return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (c := visit(n)):
            return c
    return None


def test_no_import_cycle_including_lazy_imports() -> None:
    graph = module_imports(PKG)
    assert "antifake.registry" in graph and "antifake.storage.sqlite" in graph
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a"}}) is None


def test_layering_contract_is_kept() -> None:
    """import-linter's contracts in pyproject.toml (CI runs `lint-imports` too)."""
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    if not Path(exe).exists():
        pytest.skip("import-linter is not installed (pip install import-linter)")
    root = SRC.parent
    if not (root / "pyproject.toml").exists():
        pytest.skip("needs the source tree's pyproject.toml")
    r = subprocess.run([exe, "--config", str(root / "pyproject.toml")], cwd=root,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "broken" in r.stdout and " 0 broken" in r.stdout


def test_kernels_use_the_one_vocabulary() -> None:
    """`_vocab.pxi` (what the Cython kernels include) is generated from antifake.epcis.kinds."""
    pxi = PKG / "_vocab.pxi"
    if not pxi.exists():
        pytest.skip("built from an installed wheel: the generated include is not shipped")
    consts = {m[1]: int(m[2]) for m in re.finditer(r"^\s+([A-Z_]+) = (\d+)$",
                                                     pxi.read_text(), re.M)}
    assert {k: v for k, v in consts.items() if k.startswith("K_")} == \
        {f"K_{k.name}": int(k) for k in kinds.EventKind}
    for name, v in kinds.CLAIM_DETAILS.items():
        assert consts[f"D_{name.upper()}"] == v
    for name, v in kinds.REASON_DETAILS.items():
        assert consts[f"R_{name.upper()}"] == v
    for name, v in kinds.LISTING_FLAGS.items():
        assert consts[f"L_{name.upper()}"] == v
    for text in ((PKG / "graph" / "_graph.pyx").read_text(),
                 (PKG / "detect" / "_detect.pyx").read_text()):
        assert 'include "_vocab.pxi"' in text
        assert not re.search(r"^\s*(DEF\s+)?K_[A-Z]+\s*=", text, re.M)  # no second statement


def test_kernels_set_the_aux_bits_the_reasons_read() -> None:
    """`_aux.pxi` (the kernels' aux bits) is generated from antifake.detect._aux, and no
    kernel states a bit of its own."""
    from antifake.detect._aux import AUX_BITS

    pxi = PKG / "detect" / "_aux.pxi"
    if not pxi.exists():
        pytest.skip("built from an installed wheel: the generated include is not shipped")
    consts = {m[1]: int(m[2]) for m in re.finditer(r"^\s+([A-Z_]+) = (\d+)", pxi.read_text(),
                                                     re.M)}
    assert consts == {name: bit for name, _, bit, _ in AUX_BITS}
    for kind in {k for _, k, _, _ in AUX_BITS}:
        bits = [b for _, k, b, _ in AUX_BITS if k == kind]
        assert len(set(bits)) == len(bits) and all(b & (b - 1) == 0 for b in bits), kind
    assert 'include "_aux.pxi"' in (PKG / "detect" / "_detect.pyx").read_text()
    for src in (PKG / "detect").glob("_detect*.p*"):
        assert not re.search(r"^\s*X_[A-Z_]+\s*=", src.read_text(), re.M), src.name


def test_one_thread_pool_created_once_under_races() -> None:
    """Every kernel shares one pool; threads racing to create it get the same one."""
    import threading

    from antifake import _core
    from antifake.detect import _detect

    got: list[object] = []
    start = threading.Barrier(8)

    def take() -> None:
        start.wait()
        got.append(_core.shared_pool(2))

    ts = [threading.Thread(target=take) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len({id(p) for p in got}) == 1
    assert _detect._pool() is got[0] is _core.shared_pool()
