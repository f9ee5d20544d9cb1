"""Benchmark sizes: a timed run (`pytest benchmarks/ -s`) measures at full size; a smoke run
(`--benchmark-disable`, as in the test command and CI) runs every benchmark once at a small
size, unless ``ANTIFAKE_BENCH_ITEMS`` says otherwise."""

from __future__ import annotations

import os

import pytest

SMOKE_ITEMS = "20000"


def pytest_configure(config: pytest.Config) -> None:
    # before the benchmark modules are imported: they read the size at import time
    if config.getoption("benchmark_disable", False) and "ANTIFAKE_BENCH_ITEMS" not in os.environ:
        os.environ["ANTIFAKE_BENCH_ITEMS"] = SMOKE_ITEMS
