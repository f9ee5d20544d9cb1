"""Every code example of the documentation runs: docs/**/*.md and README.md.

How a page's examples run (rules for authors):

* The fenced blocks of one page run in document order, in a fresh temporary directory (the
  current directory while the page runs), so files one block writes are there for the next.
* ```python blocks share one namespace per page. Tracebacks point at the Markdown file's lines.
* ```console blocks: each line starting with ``$ `` is a command (a trailing ``\\`` continues
  it); the lines after it are its sample output and are not compared. ```sh / ```bash /
  ```shell blocks: every line is a command.
* A command starting with ``antifake `` runs through :func:`antifake.cli.main` (globs are
  expanded as a shell would) and must exit 0, or with the code shown by a following
  ``$ echo $?`` line. ``export NAME=value`` sets an environment variable for the rest of the
  page. Other commands (``pip``, ``python``, ``pytest``...) are shown, not run. Pipes,
  redirections and ``$`` expansions in an ``antifake`` command fail the test: keep them plain.
* ``<!-- skip: reason -->`` on the line before a block skips it. Only for what cannot run here
  (a PostgreSQL URL, say), never for a core example.

Also here: every relative link of docs/ resolves (mkdocs cannot check links to repository
files), and ``mkdocs build --strict`` passes when the ``docs`` extra is installed.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import io
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"

PYTHON = {"python", "py", "python3"}
SHELL = {"sh", "bash", "shell"}
CONSOLE = {"console", "shell-session"}
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*)$")
SKIP = re.compile(r"^\s*<!--\s*skip\b[^>]*-->\s*$")
SHELL_OPERATORS = {"|", "||", "&&", ";", ">", ">>", "<", "2>", "2>&1", "&"}


@dataclass
class Block:
    path: Path
    lang: str
    line: int  # 1-based line of the block's first code line
    code: str
    skip: bool


def doc_pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if p.is_file())


def blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown file (indented fences too, dedented)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence = m["indent"], m["fence"]
        lang = (m["info"].split() or [""])[0].lower().lstrip("{.").rstrip("}")
        prev = next((ln for ln in reversed(lines[:i]) if ln.strip()), "")
        start = i + 1
        j = start
        while j < len(lines) and not (lines[j].strip().startswith(fence[0] * len(fence))
                                      and lines[j].strip().strip(fence[0]) == ""):
            j += 1
        body = [ln[len(indent):] if ln.startswith(indent) else ln.lstrip()
                for ln in lines[start:j]]
        out.append(Block(path, lang, start + 1, "\n".join(body) + "\n", bool(SKIP.match(prev))))
        i = j + 1
    return out


def commands(block: Block) -> list[tuple[str, int | None, int]]:
    """(command, expected exit code or None, line) of a console or shell block."""
    cmds: list[list] = []
    raw = block.code.splitlines()
    k = 0
    while k < len(raw):
        line = raw[k]
        lineno = block.line + k
        k += 1
        if block.lang in CONSOLE:
            if not line.startswith("$ "):
                if cmds and cmds[-1][0] == "echo $?" and line.strip().isdigit():
                    # the exit code shown belongs to the command before the echo
                    cmds.pop()
                    if cmds:
                        cmds[-1][1] = int(line.strip())
                continue
            text = line[2:]
        else:
            text = line
            if not text.strip() or text.lstrip().startswith("#"):
                continue
        while text.endswith("\\") and k < len(raw):
            text = text[:-1].rstrip() + " " + raw[k].lstrip().removeprefix("> ")
            k += 1
        cmds.append([text.strip(), None, lineno])
    return [(c, code, ln) for c, code, ln in cmds if c != "echo $?"]


def _argv(command: str, where: str) -> list[str]:
    if "$" in command or "`" in command:
        pytest.fail(f"{where}: '{command}' uses a shell expansion: not runnable through "
                    "antifake.cli.main; write the arguments out")
    words = shlex.split(command, comments=True)
    bad = [w for w in words if w in SHELL_OPERATORS]
    if bad:
        pytest.fail(f"{where}: '{command}' uses {bad[0]!r}: keep documented antifake commands "
                    "free of pipes and redirections")
    argv: list[str] = []
    for w in words[1:]:
        hits = sorted(glob.glob(w)) if any(c in w for c in "*?[") else []
        argv.extend(hits or [w])
    return argv


def run_command(command: str, expected: int | None, where: str,
                monkeypatch: pytest.MonkeyPatch) -> None:
    from antifake import cli

    if command.startswith("export "):
        for assignment in shlex.split(command)[1:]:
            name, _, value = assignment.partition("=")
            monkeypatch.setenv(name, value)
        return
    if not command.startswith("antifake "):
        return  # shown, not run (pip, python, pytest, ...)
    argv = _argv(command, where)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    want = 0 if expected is None else expected
    assert code == want, (f"{where}: '{command}' exited {code}, the docs say {want}\n"
                          f"--- stdout\n{out.getvalue()}--- stderr\n{err.getvalue()}")


def run_page(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every block of ``path``, in order, in ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for b in blocks(path):
        if b.skip:
            continue
        if b.lang in PYTHON:
            # leading newlines: tracebacks give the line numbers of the Markdown file
            source = "\n" * (b.line - 1) + b.code
            exec(compile(source, str(path), "exec"), namespace)  # noqa: S102
        elif b.lang in SHELL | CONSOLE:
            for command, expected, line in commands(b):
                run_command(command, expected, f"{path.relative_to(ROOT)}:{line}",
                            monkeypatch)


def _page_params() -> list[object]:
    params: list[object] = [pytest.param(p, id=str(p.relative_to(ROOT))) for p in doc_pages()]
    # The README's example issues and verifies a million stamps as it says (10-25 s, 800 MB).
    params.append(pytest.param(README, id="README.md", marks=pytest.mark.slow))
    return params


@pytest.mark.parametrize("page", _page_params())
def test_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_page(page, tmp_path, monkeypatch)


# ---------------------------------------------------------------------------------------
# the harness itself, and the pages
# ---------------------------------------------------------------------------------------
def test_block_parser(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text(
        "# t\n\n```python\nx = 1\n```\n\n<!-- skip: needs PostgreSQL -->\n```python\n"
        "raise SystemExit\n```\n\n```console\n$ export A=b\n$ antifake verify \\\n"
        "    --pubkey k.json x\nMALFORMED  x\n$ echo $?\n1\n$ antifake --version\n```\n"
        "\n```sh\npip install antifake  # shown only\nantifake --help\n```\n")
    bs = blocks(page)
    assert [(b.lang, b.line, b.skip) for b in bs] == [
        ("python", 4, False), ("python", 9, True), ("console", 13, False), ("sh", 23, False)]
    assert commands(bs[2]) == [("export A=b", None, 13),
                               ("antifake verify --pubkey k.json x", 1, 14),
                               ("antifake --version", None, 19)]
    assert [c for c, _, _ in commands(bs[3])] == ["pip install antifake  # shown only",
                                                  "antifake --help"]


def test_every_page_has_running_examples() -> None:
    """The quickstarts and the CLI page are made of examples; none is skipped wholesale."""
    for name in ("index.md", "cli.md", "quickstart/issuer.md", "quickstart/app.md",
                 "quickstart/marketplace.md", "quickstart/researcher.md"):
        bs = [b for b in blocks(DOCS / name) if b.lang in PYTHON | SHELL | CONSOLE]
        assert bs, f"docs/{name} has no runnable block"
        skipped = [b.line for b in bs if b.skip]
        assert len(skipped) <= 1, f"docs/{name} skips blocks at lines {skipped}"


def test_python_blocks_are_labelled() -> None:
    """A code block that looks like Python is labelled python (else it would not run)."""
    for page in [*doc_pages(), README]:
        for b in blocks(page):
            if b.lang in ("", "text") and re.search(r"^(import antifake|from antifake)", b.code,
                                                    re.M):
                pytest.fail(f"{page.relative_to(ROOT)}:{b.line}: label this block python")
            assert b.lang not in ("pycon", "doctest"), (
                f"{page.relative_to(ROOT)}:{b.line}: write plain python blocks, not prompts")


LINK = re.compile(r"(?<!!)\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def _without_code(text: str) -> str:
    text = re.sub(r"^([ \t]*)(`{3,}|~{3,}).*?^\1\2[ \t]*$", "", text, flags=re.M | re.S)
    return re.sub(r"`[^`\n]*`", "", text)


@pytest.mark.parametrize("page", doc_pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    """Links to pages and to repository files exist (mkdocs checks pages and anchors only)."""
    for target in LINK.findall(_without_code(page.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0].split("?", 1)[0]
        resolved = (page.parent / path).resolve()
        assert resolved.exists(), f"{page.relative_to(ROOT)}: broken link {target}"
        assert ROOT in resolved.parents or resolved == ROOT, (
            f"{page.relative_to(ROOT)}: {target} points outside the repository")


# ---------------------------------------------------------------------------------------
# the site
# ---------------------------------------------------------------------------------------
SITE_MODULES = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python")


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    missing = [m for m in SITE_MODULES if importlib.util.find_spec(m.split(".")[0]) is None
               or importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"the docs extra is not installed (missing {', '.join(missing)}): "
                    "pip install -e '.[docs]' to build the site")
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict",
                        "-f", str(ROOT / "mkdocs.yml"), "-d", str(site)],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"mkdocs build --strict failed:\n{r.stdout}\n{r.stderr}"
    for page in doc_pages():
        rel = page.relative_to(DOCS).with_suffix("")
        built = rel.parent if rel.name == "index" else rel  # a/b.md -> a/b/index.html
        assert (site / built / "index.html").exists(), f"{page.relative_to(ROOT)} was not built"
    api = (site / "reference" / "verify" / "index.html").read_text(encoding="utf-8")
    assert "verify_many" in api and "VerifyResult" in api, "API reference not rendered"
