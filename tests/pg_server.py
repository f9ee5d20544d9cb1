"""A throwaway PostgreSQL server for tests and benchmarks (127.0.0.1 only).

Tests that need PostgreSQL call :func:`pg_url`: ``ANTIFAKE_PG_URL`` when it is set (CI's
``.ci/postgres.sh`` starts a server and sets it), else a server this module starts once per
test session (``initdb`` into a temporary directory, ``pg_ctl start`` on a free loopback port,
stopped and removed at exit). When no server can be had the caller skips with the reason,
except under ``CI``, where it fails: a CI run must not pass by skipping the PostgreSQL tests.

``initdb`` is looked up on ``PATH`` and under ``/usr/lib/postgresql/*/bin``. PostgreSQL refuses
to run as root: as root, the cluster belongs to the ``postgres`` user (``runuser``).

Command line (what ``.ci/postgres.sh`` does in bash)::

    python tests/pg_server.py start DIR     # prints the URL; the cluster lives in DIR
    python tests/pg_server.py stop DIR
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path

ENV = "ANTIFAKE_PG_URL"
_started: dict[str, object] = {}
_lock = threading.Lock()


class NoServer(RuntimeError):
    """No PostgreSQL server could be started here (the message says why)."""


def find_bin(name: str) -> str | None:
    """A PostgreSQL server binary: on PATH, else the newest /usr/lib/postgresql/*/bin."""
    hit = shutil.which(name)
    if hit:
        return hit
    cands = glob.glob(f"/usr/lib/postgresql/*/bin/{name}")

    def version(p: str) -> tuple[int, ...]:
        v = Path(p).parents[1].name
        return tuple(int(x) for x in v.split(".") if x.isdigit())

    cands.sort(key=version)
    return cands[-1] if cands else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner(cmd: list[str]) -> list[str]:
    """Run as the ``postgres`` user when we are root (initdb and postgres refuse root)."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if runuser:
            return [runuser, "-u", "postgres", "--", *cmd]
        return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(map(_quote, cmd))]
    return cmd


def _quote(s: str) -> str:
    import shlex

    return shlex.quote(s)


def _run(cmd: list[str], timeout: float = 120) -> str:
    p = subprocess.run(_as_owner(cmd), capture_output=True, text=True, timeout=timeout,
                       check=False)
    if p.returncode != 0:
        raise NoServer(f"{' '.join(cmd[:2])} failed ({p.returncode}): "
                       f"{(p.stderr or p.stdout).strip()[-800:]}")
    return p.stdout


def start(directory: str | os.PathLike[str], *, durable: bool = False,
          dbname: str = "antifake") -> str:
    """initdb + pg_ctl start in ``directory`` (created); returns the database URL.

    ``durable=False`` turns ``fsync`` off (a throwaway test cluster); benchmarks that compare
    with SQLite's ``synchronous=FULL`` pass ``durable=True``."""
    initdb, pg_ctl = find_bin("initdb"), find_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise NoServer("PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or under "
                       "/usr/lib/postgresql/*/bin (apt-get install postgresql)")
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    data, sock = root / "data", root / "sock"
    sock.mkdir(exist_ok=True)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        import pwd

        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            raise NoServer("running as root but there is no 'postgres' user to own the "
                           "cluster") from None
        for p in (root, sock):
            os.chown(p, pw.pw_uid, pw.pw_gid)
        root.chmod(0o700)
    _run([initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
          "--no-locale", "--no-sync"])
    port = free_port()
    opts = (f"-c listen_addresses=127.0.0.1 -p {port} -k {sock} -c max_connections=100 "
            "-c shared_buffers=256MB -c max_wal_size=2GB -c log_min_messages=warning")
    if not durable:
        opts += " -c fsync=off -c full_page_writes=off"
    _run([pg_ctl, "-D", str(data), "-o", opts, "-l", str(root / "server.log"), "-w", "-t", "60",
          "start"])
    (root / "port").write_text(str(port))
    url_admin = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    try:
        import psycopg

        with psycopg.connect(url_admin, autocommit=True, connect_timeout=10) as c:
            c.execute(f'CREATE DATABASE "{dbname}"')
    except ImportError:
        createdb = find_bin("createdb")
        if not createdb:
            stop(root)
            raise NoServer("neither psycopg nor createdb is available") from None
        _run([createdb, "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", dbname])
    return f"postgresql://postgres@127.0.0.1:{port}/{dbname}"


def stop(directory: str | os.PathLike[str], remove: bool = True) -> None:
    """pg_ctl stop (fast) and remove the directory."""
    root = Path(directory)
    pg_ctl = find_bin("pg_ctl")
    if pg_ctl and (root / "data" / "postmaster.pid").exists():
        with contextlib.suppress(NoServer, subprocess.TimeoutExpired):
            _run([pg_ctl, "-D", str(root / "data"), "-m", "fast", "-w", "-t", "60", "stop"])
    if remove:
        shutil.rmtree(root, ignore_errors=True)


def pg_url(durable: bool = False) -> str:
    """``ANTIFAKE_PG_URL``, or a server started for this process (once; stopped at exit).
    Raises :class:`NoServer` when none can be had."""
    env = os.environ.get(ENV)
    if env:
        return env
    with _lock:
        key = "durable" if durable else "fast"
        hit = _started.get(key)
        if isinstance(hit, NoServer):
            raise hit
        if isinstance(hit, str):
            return hit
        try:
            import psycopg  # noqa: F401
        except ImportError:
            err = NoServer("psycopg is not installed (pip install 'antifake[postgres]')")
            _started[key] = err
            raise err from None
        d = tempfile.mkdtemp(prefix="antifake-pg-")
        try:
            url = start(d, durable=durable)
        except (NoServer, OSError, subprocess.TimeoutExpired) as exc:
            shutil.rmtree(d, ignore_errors=True)
            err = exc if isinstance(exc, NoServer) else NoServer(str(exc))
            _started[key] = err
            raise err from None
        atexit.register(stop, d)
        _started[key] = url
        return url


def require_pg_url(durable: bool = False) -> str:
    """:func:`pg_url` for tests: skip when no server can be had, fail under ``CI``."""
    import pytest

    try:
        return pg_url(durable)
    except NoServer as exc:
        msg = f"PostgreSQL not available: {exc} (set {ENV}=postgresql://... to use a server)"
        if os.environ.get("CI"):
            pytest.fail(msg + "; CI is set, so this is a failure", pytrace=False)
        pytest.skip(msg)
    raise AssertionError("unreachable")


def with_schema(url: str, schema: str) -> str:
    """``url`` with the registry's ``schema`` option (one registry per schema)."""
    return url + ("&" if "?" in url else "?") + f"schema={schema}"


def fresh_schema_url(url: str) -> str:
    return with_schema(url, "t_" + uuid.uuid4().hex[:16])


def drop_schema(url: str) -> None:
    """Drop the schema a :func:`with_schema` URL names (best effort)."""
    base, _, query = url.partition("?")
    opts = dict(p.partition("=")[::2] for p in query.split("&") if p)
    schema = opts.get("schema")
    if not schema:
        return
    import psycopg

    with contextlib.suppress(psycopg.Error), \
            psycopg.connect(base, autocommit=True, connect_timeout=10) as c:
        c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("start", "stop"):
        print(__doc__, file=sys.stderr)
        return 2
    if argv[1] == "start":
        print(start(argv[2], durable=os.environ.get("ANTIFAKE_PG_DURABLE") == "1"))
    else:
        stop(argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
