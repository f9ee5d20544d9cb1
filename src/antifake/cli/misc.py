"""``antifake bench`` (throughput on this machine) and ``antifake demo``."""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import antifake as af
from antifake.cli._common import (
    EXIT_OK,
    AddParser,
    CLIError,
    Parents,
    _emit_json,
    _Parser,
    _progress,
)


def _timed(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def cmd_bench(args: argparse.Namespace) -> int:
    import antifake._core as _core

    n = args.count
    if n < 100:
        raise CLIError("-n must be at least 100")
    cores = os.cpu_count() or 1
    thread_opts = [1] if cores == 1 or args.threads == 1 else [1, args.threads or cores]
    key = af.IssuerKey.generate("BENCH", key_id=1)
    base = "https://xacthuc.example.vn/abc"
    batch = af.issue(key, n)
    urls = batch.urls(base)
    numbers = batch.numbers()
    pub_ring = af.Keyring([key.public])
    man_ring = af.Keyring([key.public])
    man_ring.add_manifest(batch.manifest)
    sec_ring = af.Keyring([key])
    sec_ring.add_manifest(batch.manifest)
    cases: list[tuple[str, Callable[[int], Any], int]] = [
        ("issue (Ed25519 sign)", lambda t: af.issue(key, n, batch_id=0, threads=t), 1),
        ("verify QR (signature)", lambda t: af.verify_many(urls, pub_ring, threads=t), 1),
        ("verify QR (manifest)", lambda t: af.verify_many(urls, man_ring, threads=t), 3),
        ("verify numbers (tags)", lambda t: af.verify_many(numbers, sec_ring, threads=t), 3),
        ("stamp numbers (tags)", lambda t: batch.numbers(threads=t), 3),
        ("parse QR URLs", lambda t: _core.parse_texts(urls, t), 3),
    ]
    rows = []
    with _progress(args, len(cases) * len(thread_opts), "bench", "case") as tick:
        for name, fn, rep in cases:
            row: dict[str, Any] = {"operation": name, "n": n}
            for t in thread_opts:
                dt = _timed(functools.partial(fn, t), rep)
                row[f"per_s_{t}t"] = round(n / dt) if dt > 0 else None
                tick(1)
            rows.append(row)
    if args.json:
        _emit_json({"cores": cores, "threads": thread_opts, "n": n, "rows": rows})
        return EXIT_OK
    heads = ["operation", "n"] + [f"/s, {t} thread{'s' if t > 1 else ''}" for t in thread_opts]
    table = [[r["operation"], f"{n:,}"] + [f"{r[f'per_s_{t}t']:,}" for t in thread_opts]
             for r in rows]
    widths = [max(len(h), *(len(x[i]) for x in table)) for i, h in enumerate(heads)]
    print(f"antifake {af.__version__} on {cores} cores ({n:,} stamps per case, best of runs)")
    print("  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                    for i, (h, w) in enumerate(zip(heads, widths, strict=True))))
    print("  ".join("-" * w for w in widths))
    for x in table:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(x, widths, strict=True))))
    return EXIT_OK


def cmd_demo(args: argparse.Namespace, extra: list[str]) -> int:
    from antifake import demo

    if not args.json:
        return int(demo.main(extra) or 0)
    p = _Parser(prog="antifake demo", add_help=False)
    p.add_argument("--out", default=None)
    p.add_argument("-n", type=int, default=10_000)
    a = p.parse_args(extra)
    counts = demo.run(a.out, a.n, out=lambda s: print(s, file=sys.stderr))
    _emit_json({"out": a.out, "n": a.n, "counts": counts})
    return EXIT_OK


def add_parsers(add: AddParser, parents: Parents) -> None:
    """Add this module's commands to the `antifake` parser."""
    threads = parents.threads
    s = add("bench", "measure sign / verify / tag / parse throughput on this machine",
            [threads])
    s.add_argument("-n", "--count", type=int, default=10_000, help="stamps per case")
    s.set_defaults(func=cmd_bench)

    add("demo", "end-to-end demo: issue, print, verify, reject forgeries "
        "(options: --out DIR, -n N)", add_help=False)
