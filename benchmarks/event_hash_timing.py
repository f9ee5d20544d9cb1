"""Time the CBV 2.0 event hash per event (a script, not a test).

    python benchmarks/event_hash_timing.py [--reps 7] [--profile]

Three workloads, each timed ``--reps`` times (best and median in microseconds per event):

- ``event_hash`` on every event of the conformance examples (``shared/conformance``, found
  as in ``tests/test_event_hash_conformance.py``), a varied set of real-world shapes;
- ``event_hash`` on the ``to_epcis()`` dicts of events built with the ``Event`` constructors,
  the shapes the registry itself stores (what ``import_epcis`` and ``export_epcis`` hash);
- ``Event.event_id`` of those events (its cache cleared first): what ``record_many`` hashes.

The EPC canonicalisation cache is cleared before every repetition: the registry meets new
EPCs all the time. ``--profile`` prints a cProfile listing of the two ``event_hash`` workloads.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from antifake.trace import event_hash as eh
from antifake.trace.event_hash import document_events, event_hash
from antifake.trace.events import Event

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


def timing(label: str, fn: Callable[[Any], Any], items: list[Any], reps: int) -> None:
    per_event = []
    for _ in range(reps):
        eh._canonize.cache_clear()
        t = time.perf_counter()
        for item in items:
            fn(item)
        per_event.append((time.perf_counter() - t) / len(items) * 1e6)
    print(f"{label:48s} {len(items):5d} events  best {min(per_event):7.1f} us"
          f"  median {statistics.median(per_event):7.1f} us")


def uncached_id(e: Event) -> str:
    object.__setattr__(e, "_id", None)
    return e.event_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    conf = conformance_events()
    events = registry_events()
    dicts = [(e.to_epcis(), [dict(e.namespaces)]) for e in events]
    print(f"load average {os.getloadavg()[0]:.2f}")
    timing("event_hash: conformance examples", lambda x: event_hash(x[0], x[1],
                                                                    ignore_fields=x[2]),
           conf, args.reps)
    timing("event_hash: registry shapes (to_epcis dicts)", lambda x: event_hash(*x), dicts,
           args.reps)
    timing("Event.event_id (uncached)", uncached_id, events, args.reps)
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(10):
            for e, context, ignore in conf:
                event_hash(e, context, ignore_fields=ignore)
        for d, context in dicts:
            event_hash(d, context)
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
