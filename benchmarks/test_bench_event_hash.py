"""Event hashing (CBV 2.0): the fast path for flat events beside the general algorithm.

Workloads: the ``to_epcis()`` dicts of events built with the ``Event`` constructors (the shapes
the registry stores), every event of the conformance examples, and ``Event.event_id`` (what
``record_many`` hashes). The baseline is ``_reference_prehash_string``, the element-tree
algorithm alone (what every event cost before the fast path). The EPC canonicalisation cache is
cleared before every round: a registry meets new EPCs all the time.

    python -m pytest benchmarks/test_bench_event_hash.py -q -s
    python benchmarks/test_bench_event_hash.py --profile     # a cProfile listing instead
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from antifake.epcis import event_hash as eh
from antifake.epcis._prehash_values import _canonize
from antifake.epcis.event_hash import document_events, event_hash
from antifake.epcis.events import Event

N = min(int(os.environ.get("ANTIFAKE_BENCH_ITEMS", "1000000")) // 200, 5000) or 100


T0 = datetime(2027, 1, 1, tzinfo=UTC)
TZ7 = timezone(timedelta(hours=7))


def conformance_events() -> list[tuple[Any, Any, list[str]]]:
    root = Path(os.environ.get("ANTIFAKE_CONFORMANCE")
                or Path(__file__).resolve().parents[1].parent / "shared" / "conformance")
    out = []
    for path in sorted(root.glob("*/*.jsonld")):
        try:
            events, context, ignore = document_events(json.loads(path.read_text("utf-8")))
        except Exception:  # noqa: BLE001 - a file that is not an EPCIS document
            continue
        out.extend((e, context, ignore) for e in events)
    return out


def registry_events(n: int = 2000, seed: int = 0) -> list[Event]:
    """The constructors' shapes: one item per four events, times in UTC and in +07:00."""
    out: list[Event] = []
    for i in range(n):
        item = f"urn:antifake:bench:{seed}:{i // 4}"
        sgtins = [f"urn:epc:id:sgtin:0614141.107346.{seed}{i}{j}" for j in range(5)]
        t = T0 + timedelta(seconds=i, milliseconds=i % 1000)
        if i % 3 == 0:
            t = t.astimezone(TZ7)
        k = i % 8
        if k == 0:
            out.append(Event.ship([item], source="MFR-01", destination="DIST-07", at=t))
        elif k == 1:
            out.append(Event.receive([item], by="DIST-07", at=t))
        elif k == 2:
            out.append(Event.sell([item], by="RET-03", at=t))
        elif k == 3:
            out.append(Event.scan(item, by=f"app:{i % 997}", at=t, lat=10.77, lon=106.70))
        elif k == 4:
            out.append(Event.aggregate(f"urn:epc:id:sscc:0614141.{i:010d}", sgtins,
                                       by="PACK-1", at=t))
        elif k == 5:
            out.append(Event.commission(sgtins, by="MFR-01", at=t))
        elif k == 6:
            out.append(Event.decommission([item], reason="destroyed", by="MFR-01", at=t))
        else:
            out.append(Event.claim(item, by="consumer 7", at=t, ok=True, lat=1.5, lon=2.5))
    return out


def uncached_id(e: Event) -> str:
    object.__setattr__(e, "_id", None)
    return e.event_id



def _reference_hash(event: Any, context: Any, ignore: Any = ()) -> str:
    pre = eh._reference_prehash_string(event, context, ignore_fields=ignore)
    return eh.hash_prehash(pre)


def _per_event(fn: Any, items: list[Any], rounds: int = 3) -> float:
    best = float("inf")
    for _ in range(rounds):
        _canonize.cache_clear()
        t = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, time.perf_counter() - t)
    return best / len(items)


def _report(benchmark: Any, name: str, n: int, baseline_s: float) -> None:
    stats = benchmark.stats
    if stats is None or not getattr(stats, "stats", None):  # --benchmark-disable
        return
    us = stats.stats.min / n * 1e6
    benchmark.extra_info["us_per_event"] = us
    benchmark.extra_info["x_reference"] = baseline_s * 1e6 / us
    print(f"\n  {name}: {us:.1f} us/event; the general algorithm {baseline_s * 1e6:.1f} us "
          f"({baseline_s * 1e6 / us:.1f}x)")


@pytest.fixture(scope="module")
def shapes() -> list[tuple[dict[str, Any], list[dict[str, str]]]]:
    return [(e.to_epcis(), [dict(e.namespaces)]) for e in registry_events(N)]


def test_event_hash_registry_shapes(benchmark, shapes) -> None:
    assert all(event_hash(*x) == _reference_hash(*x) for x in shapes[:200])
    base = _per_event(lambda x: _reference_hash(*x), shapes)

    def run() -> None:
        _canonize.cache_clear()
        for x in shapes:
            event_hash(*x)

    benchmark.pedantic(run, rounds=3, iterations=1)
    _report(benchmark, f"event_hash, {len(shapes):,} registry-shaped events", len(shapes), base)


def test_event_hash_conformance_events(benchmark) -> None:
    conf = conformance_events()
    if not conf:
        pytest.skip("conformance examples not found")
    base = _per_event(lambda x: _reference_hash(x[0], x[1], x[2]), conf)

    def run() -> None:
        _canonize.cache_clear()
        for e, context, ignore in conf:
            event_hash(e, context, ignore_fields=ignore)

    benchmark.pedantic(run, rounds=3, iterations=1)
    _report(benchmark, f"event_hash, {len(conf)} conformance events", len(conf), base)


def test_event_id_uncached(benchmark) -> None:
    events = registry_events(N, seed=1)
    base = _per_event(lambda e: _reference_hash(e.to_epcis(), [dict(e.namespaces)]), events)

    def run() -> None:
        _canonize.cache_clear()
        for e in events:
            uncached_id(e)

    benchmark.pedantic(run, rounds=3, iterations=1)
    assert events[0].event_id == _reference_hash(events[0].to_epcis(),
                                                 [dict(events[0].namespaces)])
    _report(benchmark, f"Event.event_id, {len(events):,} events", len(events), base)


def _profile() -> None:
    import cProfile
    import pstats

    conf = conformance_events()
    dicts = [(e.to_epcis(), [dict(e.namespaces)]) for e in registry_events()]
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(10):
        for e, context, ignore in conf:
            event_hash(e, context, ignore_fields=ignore)
    for d, context in dicts:
        event_hash(d, context)
    profile.disable()
    pstats.Stats(profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__" and "--profile" in sys.argv:
    _profile()
