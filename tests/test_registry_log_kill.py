"""A registry keeping a transparency log, killed with SIGKILL while it writes: the log and the
events stay in step (same transaction), and the tree rebuilt from the events is the stored one.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import antifake as af
import pg_server
from antifake.log.note import open_checkpoint
from antifake.registry import Registry

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

WORKER = textwrap.dedent('''
    import sys
    from datetime import UTC, datetime, timedelta
    import antifake as af
    from antifake.epcis.events import Event
    from antifake.registry import Registry

    db, keyfile, units, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    t0 = datetime(2027, 6, 1, tzinfo=UTC)
    reg = Registry(db, log_key=af.LogKey.load(keyfile))
    insert = reg.storage.insert_events

    def hooked(rows):
        print("tx", len(rows), flush=True)
        return insert(rows)

    reg.storage.insert_events = hooked
    print("open", flush=True)
    for k in range(units):
        evs = [Event.scan(f"urn:antifake:kill:{k}:{j}", by=f"app:{k}",
                          at=t0 + timedelta(seconds=k, milliseconds=j), lat=10.0, lon=106.0)
               for j in range(n)]
        reg.record_many(evs)
        print("unit", k, flush=True)
    reg.close()
''')


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "sqlite":
        yield str(tmp_path / "reg.db")
        return
    url = pg_server.fresh_schema_url(pg_server.require_pg_url())
    yield url
    pg_server.drop_schema(url)


def test_sigkill_keeps_log_and_events_in_step(tmp_path: Path, db: str) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    lk = af.LogKey.generate("kill.example/log")
    keyfile = tmp_path / "log.key"
    lk.save(keyfile)
    rng = random.Random(13)
    killed_inside = 0
    last_size = 0
    last_root = af.log.EMPTY_ROOT
    for _attempt in range(6):
        p = subprocess.Popen([sys.executable, str(script), db, str(keyfile), "40", "800"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert p.stdout is not None
        line = p.stdout.readline()
        assert line.startswith("open"), p.stderr.read() if p.stderr else ""
        for _ in range(rng.randrange(1, 6)):  # into the k-th transaction's write phase
            while not (line := p.stdout.readline()).startswith("tx"):
                assert line, p.stderr.read() if p.stderr else ""
        time.sleep(rng.uniform(0.0, 0.05))
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
            killed_inside += 1
        p.communicate(timeout=60)
        with Registry(db, log_key=lk) as reg:
            assert reg.log.check() == []
            n = reg.log.size()
            assert n == reg.stats()["events"] and n % 800 == 0
            cp = open_checkpoint(reg.log.checkpoint(), lk.vkey)
            q = reg.log.consistency_proof(last_size, cp.size)
            assert af.log.verify_consistency(last_size, last_root, cp.size, cp.root, q.hashes)
            last_size, last_root = cp.size, cp.root
    assert killed_inside >= 4
    assert last_size > 0
