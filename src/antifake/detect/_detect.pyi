"""Typed stub of the detection kernels (antifake/detect/_detect.pyx).

Node, party and event ids are indices; ``rank`` is an event's position in (time, input index)
order. The Python layer (`antifake.detect`) validates every array it passes.
"""

from typing import Any

import numpy as np
import numpy.typing as npt

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]
U16 = npt.NDArray[np.uint16]
B = npt.NDArray[np.bool_]

REC_DTYPE: np.dtype[Any]

class Kernel:
    """One snapshot's arrays (events, graph CSR, parties, region grid) and configuration."""

    n_nodes: int
    n_events: int
    timings: dict[str, float]

    def __init__(self, a: dict[str, Any], cfg: dict[str, Any]) -> None: ...
    def pack(self) -> None:
        """Build the packed per-event records read by ``analyse``."""
    def partition(self, threads: int = 1) -> None:
        """Radix-partition incidence and aggregation-parent rows into node buckets."""
    def screen(self, threads: int = 1) -> tuple[B, B, I64]:
        """``(cand, observed, key)``: candidates, nodes with a located scan or claim, and
        each node's delivery group (rank of the event that gave it to its last holder)."""
    def keys(self) -> I64:
        """Delivery group (rank) of every node, from the custody segments alone."""
    def analyse(self, nodes: I32) -> tuple[np.ndarray, I32, I64, B]:
        """Every rule on ``nodes``: ``(records, evidence ranks, key, observed)``."""

def phone_regions(ev_kind: U8, ev_by: I32, ev_lat: npt.NDArray[np.float64],
                  ev_lon: npt.NDArray[np.float64], party_business: U8,
                  grid: npt.NDArray[np.int16], g: dict[str, Any]) -> I32:
    """Per party: the region where most of its located scans and claims are (a phone's
    home), -1 for businesses and when none is known."""

def listing_flags(k: Kernel, nodes: I32, sellers: I32, cust_now: I32) -> tuple[U16, U8]:
    """Per (node, seller): refusal bits (0: ok) and the decommissioning detail code."""

def make_alerts(cls: type, kind_names: list[str], codes: list[str], scores: list[float],
                names: tuple[str, ...], starts: I64, ends: I64, firsts: list[int],
                lasts: list[int], reasons: list[str]) -> list[Any]:
    """Alert tuples (``cls`` a tuple subclass) built in one C loop."""
