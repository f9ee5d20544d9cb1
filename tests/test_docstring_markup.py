"""Docstrings are Markdown for mkdocstrings: no Sphinx roles, which it would show raw.

Write `Name` (a code span) or [`Name`][antifake.module.Name] (a cross-reference to a documented
public object; ``mkdocs build --strict`` fails on a target it cannot find) instead of
:class:`Name`, :func:`name`, :meth:`Class.name` and the like.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "antifake"
ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|data|exc|mod|obj|const|ref|any):`")


def test_no_sphinx_roles_in_the_package_source() -> None:
    files = sorted(p for ext in ("py", "pyi", "pyx") for p in SRC.rglob(f"*.{ext}"))
    assert any(p.name == "keys.py" for p in files) and any(p.suffix == ".pyx" for p in files)
    found = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
             for p in files
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
             if ROLE.search(line)]
    assert not found, "Sphinx roles (use Markdown code spans or cross-references):\n" + "\n".join(
        found)


def test_the_check_catches_roles() -> None:
    assert ROLE.search("see :class:`Keyring` and") and ROLE.search(":py:meth:`X.y`")
    assert not ROLE.search("the EPC class URI ``urn:epc:class:lgtin``")
