"""Many writers on one registry, on both backends (SQLite in WAL mode with a busy timeout;
PostgreSQL): writer processes recording overlapping event sets lose nothing and duplicate
nothing; a claim race on one stamp across processes has exactly one winner.

Writers are real processes (``multiprocessing``, spawn), started together behind a barrier,
each recording its share of one deterministic event list in its own order, in
``record_many`` calls. Every event is recorded by two writers, so every write races another
writer's identical write, and new EPCs and parties are created by several writers at once.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import antifake as af
import pg_server
from antifake.epcis.events import Event
from antifake.registry import Registry

T0 = datetime(2027, 5, 1, tzinfo=UTC)
WRITERS = 4
N_EVENTS = 1200
CHUNK = 40
BASE = "https://xacthuc.example.vn/abc"


def all_events(epcs: list[str]) -> list[Event]:
    """The shared event list: scans of registered stamps (new scanner parties), packing into
    new cases (new nodes), scans of EPCs no registry has seen."""
    out: list[Event] = []
    for i in range(N_EVENTS):
        t = T0 + timedelta(seconds=i)
        if i % 10 == 0:
            case = f"urn:antifake:case:{i // 10}"
            out.append(Event.aggregate(case, epcs[i % len(epcs): i % len(epcs) + 3],
                                       by=f"PACKER-{i % 7}", at=t))
        elif i % 10 == 5:
            out.append(Event.scan(f"urn:antifake:foreign:{i % 97}", by=f"app:{i % 53}", at=t,
                                  lat=10.0 + i / 1e4, lon=106.0))
        else:
            out.append(Event.scan(epcs[i % len(epcs)], by=f"app:{i % 53}", at=t,
                                  lat=21.0, lon=105.8 + i / 1e4))
    return out


def share(w: int) -> list[int]:
    """Writer w records events i with i % WRITERS in {w, w + 1}: each event twice."""
    mine = [i for i in range(N_EVENTS) if i % WRITERS in (w, (w + 1) % WRITERS)]
    random.Random(w).shuffle(mine)
    return mine


def _open(url: str, keyfile: str | None = None) -> Registry:
    ring = af.Keyring([af.IssuerKey.load(keyfile)]) if keyfile else None
    return Registry(url, keyring=ring)


def writer(url: str, w: int, epcs: list[str], barrier, results) -> None:  # noqa: ANN001
    reg = _open(url)
    try:
        events = all_events(epcs)
        mine = share(w)
        barrier.wait(60)
        new = 0
        for lo in range(0, len(mine), CHUNK):
            new += reg.record_many([events[i] for i in mine[lo: lo + CHUNK]]).new
        results.put((w, new, None))
    except BaseException as exc:  # noqa: BLE001
        results.put((w, 0, repr(exc)))
    finally:
        reg.close()


def claimer(url: str, keyfile: str, w: int, code: str, pin: str, barrier, results
            ) -> None:  # noqa: ANN001
    reg = _open(url, keyfile)
    try:
        barrier.wait(60)
        r = reg.claim(code, pin, at=T0 + timedelta(days=1), by=f"app:claimer{w}")
        results.put((w, r.result, None))
    except BaseException as exc:  # noqa: BLE001
        results.put((w, None, repr(exc)))
    finally:
        reg.close()


def run_all(target, args_of) -> list[tuple]:  # noqa: ANN001
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(WRITERS)
    results = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args_of(w), barrier, results))
             for w in range(WRITERS)]
    for p in procs:
        p.start()
    out: list[tuple] = []
    end = time.monotonic() + 300
    while len(out) < len(procs):  # fail at once if a process dies without reporting
        try:
            out.append(results.get(timeout=2))
        except queue.Empty:
            dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
            assert not dead, f"a process died (exit codes {dead})"
            assert time.monotonic() < end, "processes did not finish in time"
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    errors = [o for o in out if o[2]]
    assert not errors, errors
    return sorted(out)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path: Path):
    if request.param == "sqlite":
        yield str(tmp_path / "shared.db")
        return
    u = pg_server.fresh_schema_url(pg_server.require_pg_url())
    yield u
    pg_server.drop_schema(u)


@pytest.fixture
def key(tmp_path: Path) -> tuple[af.IssuerKey, str]:
    k = af.IssuerKey.generate("VN-QLTT-01")
    path = tmp_path / "issuer.key"
    k.save(path)
    return k, str(path)


def test_writers_lose_nothing_and_duplicate_nothing(url: str, key, tmp_path: Path) -> None:
    k, _ = key
    batch = af.issue(k, 200, at=T0)
    with _open(url) as reg:
        reg.add_party("MFR-01", role="manufacturer")
        reg.register(batch, owner="MFR-01", at=T0)
        base = reg.stats()
    epcs = batch.epcs().tolist()
    out = run_all(writer, lambda w: (url, w, epcs))
    events = all_events(epcs)
    assert sum(o[1] for o in out) == N_EVENTS  # every event stored by exactly one writer
    # the same events recorded by one process in order: the reference
    with Registry(tmp_path / "reference.db") as ref, _open(url) as reg:
        ref.add_party("MFR-01", role="manufacturer")
        ref.register(batch, owner="MFR-01", at=T0)
        ref.record_many(events)
        st = reg.stats()
        assert st["events"] == base["events"] + N_EVENTS
        assert st == ref.stats()
        check = reg.check()
        assert check["ok"], check["problems"]
        g, gr = reg.graph(), ref.graph()
        assert sorted(g.event_ids.tolist()) == sorted(gr.event_ids.tolist())
        assert len(set(g.event_ids.tolist())) == g.n_events
        assert sorted(g.epcs.tolist()) == sorted(gr.epcs.tolist())
        for epc in [epcs[0], epcs[7], epcs[-1], "urn:antifake:case:3",
                    "urn:antifake:foreign:5"]:
            mine = [g.event_ids[i] for i in g.history(epc)]
            theirs = [gr.event_ids[i] for i in gr.history(epc)]
            assert sorted(mine) == sorted(theirs), epc
        case = "urn:antifake:case:3"
        assert sorted(g.contents(case).tolist()) == sorted(gr.contents(case).tolist())
        export = tmp_path / "all.jsonld"
        assert reg.export_epcis(export) == st["events"]
        with Registry(tmp_path / "again.db") as again:
            assert again.import_epcis(export).new == st["events"]  # no duplicates inside


def test_claim_race_across_processes_has_one_winner(url: str, key) -> None:
    k, keyfile = key
    batch = af.issue(k, 20, at=T0)
    with _open(url, keyfile) as reg:
        reg.register(batch, owner="MFR-01", at=T0)
    code, pin = batch[7].url(BASE), batch.pins()[7]
    out = run_all(claimer, lambda w: (url, keyfile, w, code, pin))
    results = [o[1] for o in out]
    assert sorted(results) == ["already_claimed"] * (WRITERS - 1) + ["ok"]
    with _open(url, keyfile) as reg:
        st = reg.status(code)
        assert st.claim == "claimed" and st.attempts == WRITERS
