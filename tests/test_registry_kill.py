"""Durability: a registry process killed with SIGKILL in the middle of large writes loses
nothing it committed and leaves no half-written unit (batch of stamps, record_many call or
EPCIS import); re-running the work completes it and is idempotent. Both backends: a SQLite
file, and a PostgreSQL schema whose client is killed mid-transaction.

The writer is a real subprocess; it reports each unit after its commit returns, and the test
kills it at random moments (several times, different timings) and then checks the store.
Whether a kill hit a running worker is read from its exit status, never guessed before the
signal: a worker that finished on its own in the meantime counts as "not hit", and the test
starts another one on a fresh store until enough kills have landed."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import antifake as af
import pg_server
from antifake.epcis.events import Event
from antifake.epcis.jsonld import dumps
from antifake.registry import COMMISSION_CHUNK, Registry

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

T0 = datetime(2027, 6, 1, tzinfo=UTC)
UNITS = 9  # unit k: register batch k // 3 when k % 3 == 0, else record_many of EVENTS events
EVENTS = 1500
STAMPS = 25_000

WORKER = textwrap.dedent('''
    import sys
    from pathlib import Path
    import antifake as af
    from antifake.registry import Registry

    from test_registry_kill import T0, unit_events as events  # the test's own units

    mode, db = sys.argv[1], sys.argv[2]
    reg = Registry(db)
    insert = reg.storage.insert_events

    def hooked(rows):  # announce the write phase, so the test can kill inside it
        print("tx", len(rows), flush=True)
        return insert(rows)

    reg.storage.insert_events = hooked
    print("open", flush=True)
    if mode == "units":
        units, n, batch_dir = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
        for k in range(units):
            if k % 3 == 0:
                b = af.Batch.load(f"{batch_dir}/b{k // 3}.npz")
                new = reg.register(b, owner="MFR-01", at=T0)
            else:
                new = reg.record_many(events(k, n)).new
            print("unit", k, new, flush=True)
    else:
        doc = sys.argv[3]
        from antifake.epcis.jsonld import parse_document
        d = parse_document(Path(doc))
        print("parsed", flush=True)
        res = reg._store_events(d.events)
        print("import", res.new, flush=True)
    reg.close()
''')


def unit_events(k: int, n: int) -> list[Event]:
    out = []
    for j in range(n):
        item = f"urn:antifake:kill:{k}:{j}"
        t = T0 + timedelta(seconds=k, milliseconds=j)
        if j % 50 == 0:
            out.append(Event.aggregate(f"urn:antifake:case:{k}:{j}", [item], by="P1", at=t))
        else:
            out.append(Event.scan(item, by=f"app:{k}", at=t, lat=10.0, lon=106.0))
    return out


def run(script: Path, *args: str) -> subprocess.Popen[str]:
    """The worker, able to import this module (for `unit_events`)."""
    here = str(Path(__file__).resolve().parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [here, os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, str(script), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def wait_line(p: subprocess.Popen[str], prefix: str, timeout: float = 120) -> list[str]:
    """Lines up to and including the first one starting with ``prefix``."""
    lines = []
    deadline = time.monotonic() + timeout
    assert p.stdout is not None
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        if not line:
            raise AssertionError(f"worker ended early: {p.stderr.read() if p.stderr else ''}")
        lines.append(line.strip())
        if line.startswith(prefix):
            return lines
    raise AssertionError(f"no {prefix!r} line in {timeout} s")


def kill(p: subprocess.Popen[str], seen: list[str]) -> tuple[list[str], bool]:
    """SIGKILL the worker; (every line it wrote, whether the kill hit it while running).

    The signal goes to the pid even if the worker has just exited: until it is reaped the pid
    is its own (a zombie), so the kill is harmless then, and the exit status says which
    happened."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(p.pid, signal.SIGKILL)
    out, err = p.communicate(timeout=60)
    hit = p.returncode == -signal.SIGKILL
    if not hit:  # it ended on its own first: that must have been a clean exit
        assert p.returncode == 0, err
    return seen + [x.strip() for x in out.splitlines()], hit


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Makes a new, empty registry location on the backend (a file, or a PostgreSQL schema)."""
    made: list[str] = []

    def make(name: str) -> str:
        if request.param == "sqlite":
            return str(tmp_path / name)
        url = pg_server.fresh_schema_url(pg_server.require_pg_url())
        made.append(url)
        return url

    yield make
    for url in made:
        pg_server.drop_schema(url)


def test_kill_tells_a_worker_that_ended_first_from_a_hit() -> None:
    """The race that once failed CI: the worker exits between any check and the signal."""
    done = subprocess.Popen([sys.executable, "-c", "print('bye')"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    while done.poll() is None:  # exited (and reaped by poll): the signal cannot reach it
        time.sleep(0.01)
    lines, hit = kill(done, [])
    assert (lines, hit) == (["bye"], False)
    zombie = subprocess.Popen([sys.executable, "-c", "print('bye')"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)  # exited but not reaped: os.kill reaches the zombie, which ignores it
    assert kill(zombie, [])[1] is False
    busy = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert kill(busy, [])[1] is True


def store_checks(db: str) -> None:
    """The backend's own consistency checks (SQLite: the file's; PostgreSQL: the server's
    transactions leave nothing to check beyond what the registry checks)."""
    if "://" in db:
        return
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        assert con.execute("SELECT count(*) - count(DISTINCT hash) FROM events").fetchone() \
            == (0,)
    finally:
        con.close()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict:
    d = tmp_path_factory.mktemp("kill")
    script = d / "worker.py"
    script.write_text(WORKER)
    key = af.IssuerKey.generate("VN-KILL-01")
    batches = []
    for i in range((UNITS + 2) // 3):
        b = af.issue(key, STAMPS, at=T0)
        b.save(d / f"b{i}.npz")
        batches.append(b)
    unit_ids: list[set[str]] = []
    for k in range(UNITS):
        if k % 3 == 0:
            b = batches[k // 3]
            epcs = b.epcs().tolist()
            ids = {Event.commission(epcs[i: i + COMMISSION_CHUNK], by="MFR-01", at=T0).event_id
                   for i in range(0, len(epcs), COMMISSION_CHUNK)}
        else:
            ids = {e.event_id for e in unit_events(k, EVENTS)}
        unit_ids.append(ids)
    return {"dir": d, "script": script, "batches": batches, "unit_ids": unit_ids}


def stored_units(db: str, unit_ids: list[set[str]], batches: list[af.Batch]) -> int:
    """How many units the file holds, checking each is whole and they form a prefix."""
    with Registry(db) as reg:
        report = reg.check()
        assert report["ok"], report["problems"]
        g = reg.graph()
        have = set(g.event_ids.tolist())
        assert len(have) == g.n_events  # ids unique
        stats = reg.stats()
    complete = []
    for k, ids in enumerate(unit_ids):
        inside = len(ids & have)
        assert inside in (0, len(ids)), f"unit {k} half-stored: {inside} of {len(ids)}"
        complete.append(inside == len(ids))
    m = complete.index(False) if False in complete else len(complete)
    assert not any(complete[m:]), f"units stored out of order: {complete}"
    # counts match the committed units exactly: nothing else was written
    assert stats["events"] == sum(len(unit_ids[k]) for k in range(m))
    n_batches = sum(1 for k in range(m) if k % 3 == 0)
    assert stats["stamps"] == n_batches * STAMPS
    assert stats["batches"] == n_batches
    with Registry(db) as reg:  # every stamp of a stored batch resolves
        for i in range(n_batches):
            b = batches[i]
            for j in (0, STAMPS // 2, STAMPS - 1):
                assert reg.resolve(b[j]) == b[j].epc
    return m


def test_sigkill_during_writes_loses_nothing_committed(setup: dict,
                                                       store: Callable[[str], str]) -> None:
    d: Path = setup["dir"]
    unit_ids, batches = setup["unit_ids"], setup["batches"]
    rng = random.Random(20270601)
    stores = 1
    db = store("units.db")
    m = 0
    kills = 0
    schedule = [("unit", 0.05), ("tx", 0.0), ("unit", 0.4), ("tx", 0.1), ("unit", 0.15),
                ("tx", 0.02), ("tx", 0.2), ("unit", 1.5)]
    attempt = 0
    while attempt < len(schedule) or kills < len(schedule) - 2:
        # a worker that outran its kill is not a failure, but proves nothing: try again
        assert attempt < 3 * len(schedule), f"only {kills} kills landed in {attempt} tries"
        phase, delay = schedule[attempt % len(schedule)]
        delay *= rng.uniform(0.7, 1.3)
        attempt += 1
        if m == UNITS:  # everything stored: kills need unfinished work, so a new store
            db, m, stores = store(f"units{stores}.db"), 0, stores + 1
        p = run(setup["script"], "units", db, str(UNITS), str(EVENTS), str(d))
        # skip the units already stored (quick no-ops), then kill inside the next one:
        # some time into it, or some time after its write phase began
        seen = wait_line(p, "open" if m == 0 else f"unit {m - 1} ")
        if phase == "tx":
            seen += wait_line(p, "tx")
        time.sleep(delay)
        lines, hit = kill(p, seen)
        kills += hit
        store_checks(db)
        reported = [int(x.split()[1]) for x in lines if x.startswith("unit")]
        m2 = stored_units(db, unit_ids, batches)
        # durability: every unit whose commit returned before the kill is there
        assert m2 >= (max(reported) + 1 if reported else 0), (attempt, reported, m2)
        assert m2 >= m  # and nothing committed earlier went missing
        if not hit:
            assert m2 == UNITS  # a clean exit means every unit was committed
        print(f"kill {attempt}: hit={hit} {delay:.2f} s after {phase!r}, units reported "
              f"{reported[-1:] or '-'}, stored {m2}")
        m = m2
    # re-running completes the work; running it again stores nothing new
    for expect_new in (m < UNITS, False):
        p = run(setup["script"], "units", db, str(UNITS), str(EVENTS), str(d))
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        news = [int(x.split()[2]) for x in out.splitlines() if x.startswith("unit")]
        assert len(news) == UNITS
        if expect_new:
            assert sum(news) > 0
        else:
            assert news == [0] * UNITS
        assert stored_units(db, unit_ids, batches) == UNITS


def test_sigkill_during_an_import(setup: dict, store: Callable[[str], str]) -> None:
    d: Path = setup["dir"]
    db = store("import.db")
    doc = d / "big.jsonld"
    events = [e for k in (101, 102, 103, 104) for e in unit_events(k, 2000)]
    doc.write_text(dumps(events))
    ids = {e.event_id for e in events}
    rng = random.Random(7)
    done = False
    for phase, delay in [("parsed", 0.0), ("parsed", 0.1), ("tx", 0.0), ("tx", 0.05),
                         ("tx", 0.12), ("tx", 0.2), ("tx", 0.28), ("tx", 0.35), ("tx", 0.45),
                         ("tx", 0.8)]:
        p = run(setup["script"], "import", db, str(doc))
        seen = wait_line(p, phase)
        time.sleep(delay * rng.uniform(0.8, 1.2))
        lines, _ = kill(p, seen)
        store_checks(db)
        with Registry(db) as reg:
            assert reg.check()["ok"]
            n = reg.stats()["events"]
            stored = set(reg.graph().event_ids.tolist())
        assert n in (0, len(ids)), f"half an import stored: {n}"
        print(f"import killed {delay:.2f} s after {phase!r}: {n} events stored")
        assert stored in (set(), ids)
        if any(x.startswith("import") for x in lines):
            assert n == len(ids)  # reported committed: it is there
        done = done or n == len(ids)
    p = run(setup["script"], "import", db, str(doc))
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, err
    new = int([x for x in out.splitlines() if x.startswith("import")][0].split()[1])
    assert new == (0 if done else len(ids))
    p = run(setup["script"], "import", db, str(doc))
    out, _ = p.communicate(timeout=600)
    assert "import 0" in out
    with Registry(db) as reg:
        assert reg.stats()["events"] == len(ids) and reg.check()["ok"]
