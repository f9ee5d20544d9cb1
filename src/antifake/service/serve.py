"""Run the service with uvicorn on one socket, announcing the real address when ready;
``workers > 1`` forks that many processes sharing the socket (each builds its own app, so
each has its own database connections and rate-limit buckets)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["serve"]


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


#: glibc mallopt parameters: M_TRIM_THRESHOLD, M_MMAP_THRESHOLD
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_KEEP = 32 * 1024 * 1024  # glibc's largest mmap threshold on 64-bit systems


def _keep_freed_memory() -> bool:
    """Have glibc's allocator keep the memory of freed large blocks (bulk request bodies of
    up to 32 MiB, their column arrays) for the next request instead of returning it to the
    system at once: each request otherwise maps fresh pages and faults every one of them in
    again (about a third of the server's CPU per 100,000-code request). The process keeps its
    peak heap instead (about 30 MB more per worker at 100,000 codes a request). True when
    applied (glibc only; elsewhere nothing changes)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, _KEEP) == 1
    return bool(mallopt(_M_TRIM_THRESHOLD, 8 * _KEEP) == 1 and ok)


def _run(app: Any, sock: socket.socket, log_level: str,
         on_ready: Callable[[], None] | None) -> None:
    import uvicorn

    _keep_freed_memory()

    class _Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if on_ready is not None:
                on_ready()

    config = uvicorn.Config(app, log_level=log_level, access_log=False,
                            server_header=False, proxy_headers=False,
                            limit_concurrency=1000, timeout_keep_alive=15,
                            h11_max_incomplete_event_size=64 * 1024)
    _Server(config).run(sockets=[sock])


def serve(make_app: Callable[[], Any], host: str = "127.0.0.1", port: int = 8080, *,
          workers: int = 1, log_level: str = "warning") -> None:
    """Serve the app ``make_app()`` builds until interrupted; ``port=0`` picks a free port.
    Prints ``listening on http://HOST:PORT`` (the real port) on stdout once the first worker
    accepts connections."""
    sock = _bind(host, port)
    real = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    line = f"listening on http://{shown}:{real}"

    def announce() -> None:
        print(line, flush=True)

    if workers <= 1:
        try:
            _run(make_app(), sock, log_level, announce)
        finally:
            sock.close()
        return
    read_fd, write_fd = os.pipe()
    children = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # a worker: its own app, connections and buckets
            os.close(read_fd)

            def ready(fd: int = write_fd) -> None:
                with contextlib.suppress(OSError):  # the parent reads the first one only
                    os.write(fd, b".")
                    os.close(fd)

            code = 0
            try:
                _run(make_app(), sock, log_level, ready)
            except BaseException:  # noqa: BLE001 - reported by the parent's exit code
                code = 1
            os._exit(code)
        children.append(pid)
    os.close(write_fd)
    with contextlib.suppress(OSError):
        if os.read(read_fd, 1):
            announce()
    os.close(read_fd)

    stopping: list[int] = []

    def stop(signum: int, frame: Any) -> None:
        stopping.append(signum)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    status = 0
    for pid in children:
        _, st = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(st)
        if stopping and code in (-signal.SIGTERM, -signal.SIGINT):
            code = 0  # uvicorn re-raises the signal it stopped on: the stop we asked for
        status = status or code
    sock.close()
    sys.stdout.flush()
    if status:
        raise SystemExit(status)
