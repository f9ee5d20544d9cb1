"""Shared setup of the fuzz harnesses (see fuzz/README.md).

A harness fails on anything but an antifake error (`af.AntifakeError`), a verdict, or a
documented result: a Python internal error (TypeError, OverflowError, RecursionError, ...)
escaping a parser is a finding, as is a crash or a sanitizer report in the native code.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import atheris

with atheris.instrument_imports(include=["antifake"]):
    import antifake as af  # noqa: F401
    from antifake import _core, codes, gs1, keys, manifest, trust  # noqa: F401
    from antifake.verify import Status, parse_pin, verify, verify_many, verify_pin  # noqa: F401
    from antifake.epcis import event_hash  # noqa: F401
    from antifake.epcis import jsonld as epcis  # noqa: F401


def main(test_one_input: Callable[[bytes], None]) -> None:
    """Run the harness under libFuzzer (argv as libFuzzer takes it)."""
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


def keyring() -> tuple[af.Keyring, list[str]]:
    """A fixed keyring (a secret key with a manifest) and genuine texts of every form; the
    key is derived from a fixed seed so that corpora stay meaningful across runs."""
    from datetime import UTC, datetime

    seed = bytes(range(32))
    key = af.IssuerKey("fuzz-issuer", 0x1234, seed, seed[::-1],
                       datetime(2026, 1, 1, tzinfo=UTC), datetime(2029, 1, 1, tzinfo=UTC))
    at = datetime(2026, 6, 1, tzinfo=UTC)
    batch = af.issue(key, 4, at=at)
    gs1b = af.issue(key, 4, at=at, product=codes.GS1Attributes("09521234543213", "L1", "271231"))
    ring = af.Keyring([key])
    ring.add_manifest(batch.manifest)
    ring.add_manifest(gs1b.manifest)
    texts = [*batch.urls("https://v.example/s"), *(c.decode() for c in batch.codes()),
             *batch.numbers(), *batch.numbers(grouped=False), *gs1b.urls("https://v.example")]
    return ring, [str(t) for t in texts]


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))
