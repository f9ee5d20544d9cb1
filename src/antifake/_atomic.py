"""Atomic file replacement: write a temporary file beside the target, fsync, rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str], mode: str = "wb", *, private: bool = False,
                prefix: str = ".antifake-", suffix: str = "", **open_args: Any
                ) -> Iterator[IO[Any]]:
    """A file object whose content replaces ``path`` when the block ends without an exception
    (readers see the old file or the new one, never a part); on an exception the temporary file
    is removed and ``path`` is untouched. ``private``: the file is created 0600."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=target.resolve().parent)
    try:
        if private:
            os.fchmod(fd, 0o600)
        with os.fdopen(fd, mode, **open_args) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
