"""File helpers: atomic replacement (temporary file beside the target, fsync, rename), refusal
to overwrite, and bounded reads."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_file", "read_capped", "read_limited", "create_new"]

# O_NOFOLLOW/O_CLOEXEC are absent on some platforms (Windows): 0 there
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def _open_exclusive(path: Path, perm: int) -> int:
    """Create ``path`` that must not exist (``O_CREAT|O_EXCL|O_NOFOLLOW``): a file or a
    symbolic link planted at that name is never followed nor reused."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, perm)


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str], mode: str = "wb", *, private: bool = False,
                prefix: str = ".antifake-", suffix: str = ".part", overwrite: bool = True,
                **open_args: Any) -> Iterator[IO[Any]]:
    """A file object whose content replaces ``path`` when the block ends without an exception
    (readers see the old file or the new one, never a part); on an exception the temporary file
    is removed and ``path`` is untouched. ``private``: the file is created 0600.

    The temporary file has a random name and is created with ``O_CREAT|O_EXCL|O_NOFOLLOW``
    (a symbolic link planted in the directory is not followed). ``overwrite=False`` raises
    ``FileExistsError`` when ``path`` exists, checked before writing and again at the rename
    (the rename then uses a hard link, which never replaces an existing name)."""
    target = Path(path)
    if not overwrite and os.path.lexists(target):
        raise FileExistsError(f"{target} exists")
    parent = target.resolve().parent if not target.is_symlink() else target.absolute().parent
    for _ in range(100):
        tmp = parent / f"{prefix}{secrets.token_hex(8)}{suffix}"
        try:
            fd = _open_exclusive(tmp, 0o600 if private else 0o666)
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - 100 collisions of 64 random bits
        raise FileExistsError(f"cannot create a temporary file in {parent}")
    try:
        if private:
            os.fchmod(fd, 0o600)
        with os.fdopen(fd, mode, **open_args) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, target)
        else:
            os.link(tmp, target)  # fails with FileExistsError if the name appeared meanwhile
            os.unlink(tmp)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def create_new(path: str | os.PathLike[str], mode: str = "wb", *, private: bool = False,
               force: bool = False, **open_args: Any) -> IO[Any]:
    """Open ``path`` for writing: a new file (``O_EXCL|O_NOFOLLOW``), or with ``force`` an
    existing one truncated (a symbolic link at ``path`` is still not followed).
    ``FileExistsError`` when it exists and ``force`` is false."""
    p = Path(path)
    perm = 0o600 if private else 0o666
    if force:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW | _CLOEXEC, perm)
    else:
        fd = _open_exclusive(p, perm)
    if private:
        os.fchmod(fd, 0o600)
    return os.fdopen(fd, mode, **open_args)


def read_capped(path: str | os.PathLike[str], cap: int) -> bytes:
    """The bytes of ``path``, reading at most ``cap + 1`` of them (so ``/dev/zero`` or a
    huge file cannot exhaust memory); ``ValueError`` when the file holds more than ``cap``.
    ``OSError`` as ``open`` raises it."""
    with open(path, "rb") as f:
        data = f.read(cap + 1)
    if len(data) > cap:
        raise ValueError(f"{path} is larger than {cap} bytes")
    return data


def read_limited(path: str | os.PathLike[str], cap: int, what: str,
                 error: type[Exception]) -> bytes:
    """`read_capped` for a file the caller names ``what`` (e.g. "key file"): an unreadable or
    oversized file raises ``error`` with a message naming the file and the fault."""
    try:
        return read_capped(path, cap)
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror}") from None
    except ValueError:
        raise error(f"{path} is too large to be a {what}") from None
