"""Shared fixtures: deterministic keys (for vectors) and fresh random keys (for behaviour)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

import antifake as af

if os.environ.get("ANTIFAKE_TEST_INSTALLED"):
    # CI tests the built wheel: the package must come from site-packages, not the source tree
    _SRC = Path(__file__).resolve().parents[1] / "src"
    if _SRC in Path(af.__file__).resolve().parents:
        raise RuntimeError(f"testing {af.__file__} from the source tree, not the installed wheel")

#: The benchmarks' size in a smoke run (``--benchmark-disable``, as the test command and CI
#: run them) unless ``ANTIFAKE_BENCH_ITEMS`` says otherwise; a timed run measures full size.
SMOKE_ITEMS = "20000"


def pytest_configure(config: pytest.Config) -> None:
    # this conftest loads before any benchmark module is imported (they read the size then);
    # the hook lives here because a conftest.py in benchmarks/ would shadow this module for
    # the tests that import from it
    if config.getoption("benchmark_disable", False) and "ANTIFAKE_BENCH_ITEMS" not in os.environ:
        os.environ["ANTIFAKE_BENCH_ITEMS"] = SMOKE_ITEMS


FIXED_FROM = datetime(2026, 1, 1, tzinfo=UTC)
FIXED_UNTIL = datetime(2029, 1, 1, tzinfo=UTC)
BASE = "https://xacthuc.example.vn/abc"  # 30 characters: the sizing case of the QR docs


def fixed_key(issuer: str = "VN-QLTT-01", key_id: int = 0x4F2A, seed_byte: int = 1
              ) -> af.IssuerKey:
    """A key with known secrets, for frozen test vectors only."""
    return af.IssuerKey(issuer, key_id, bytes([seed_byte]) * 32, bytes([seed_byte + 1]) * 32,
                        FIXED_FROM, FIXED_UNTIL)


@pytest.fixture
def key() -> af.IssuerKey:
    return af.IssuerKey.generate("VN-QLTT-01")


@pytest.fixture
def batch(key: af.IssuerKey) -> af.Batch:
    return af.issue(key, 64)


@pytest.fixture
def ring(key: af.IssuerKey) -> af.Keyring:
    """A verifier's keyring: public key only."""
    return af.Keyring([key.public])


@pytest.fixture
def issuer_ring(key: af.IssuerKey) -> af.Keyring:
    """The issuer service's keyring: secret key (numbers and PINs)."""
    return af.Keyring([key])


class FakeClock:
    """A settable clock for keyrings (``Keyring(clock=FakeClock(t))``): first-seen times of
    manifests in tests are the times the test says, not the machine's."""

    def __init__(self, t: datetime) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t
