"""Typed stub of the trace-graph kernels (antifake/graph/_graph.pyx).

Ids are node, party and event indices; ``rank`` is an event's position in (time, input index)
order. Every function checks ids at its border and raises ``IndexError``/``ValueError``.
"""

from typing import Any

import numpy as np
import numpy.typing as npt

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]

def radix_argsort(keys: I64) -> I32:
    """Stable argsort of int64 keys (LSD radix over the varying bits)."""

def hash_strings(strings: npt.NDArray[np.object_]) -> I64:
    """``hash()`` of every ``str`` of an object array (``TypeError`` for non-str)."""

def prepare_events(
    order: I32, t: I64, kind: U8, by: I32, src: I32, dst: I32, par: I64
) -> tuple[I64, U8, I32, I32, I32]:
    """``(t_sorted, kind_r, par_r, cval_r, rank_of)``: event columns in rank order, the custody
    effect of each event (new custodian, -1 nobody, -2 no change) and each event's rank."""

def incidence_by_rank(rank_of: I32, inc_event: I64, inc_node: I64) -> tuple[I64, I32]:
    """Incidence CSR by event rank ``(ev_ptr, ev_nodes)``, input order kept within an event."""

def group_by(keys: I32, n_keys: int, *values: I32) -> tuple[Any, ...]:
    """Stable grouping by key: ``(ptr, *values_grouped)``."""

def own_events(
    kind: U8, ev_ptr: I64, ev_nodes: I32, par: I32, n_nodes: int
) -> tuple[I64, I32, int]:
    """``(own_ptr, own_rank, n_agg_rows)``: each node's own events, ranks ascending."""

def replay(
    kind: U8, par: I32, cval: I32, ev_ptr: I64, ev_nodes: I32, n_nodes: int, lk_cap: int
) -> tuple[I32, I32, tuple[I32, I32, I32, I32], tuple[I32, I32, I32]]:
    """``(parent_now, cust_now, (lk_child, lk_parent, lk_start, lk_end),
    (seg_node, seg_rank, seg_party))``: one replay of containment and custody."""

def preorder_forest(parent: I32, ch_ptr: I64, ch_node: I32) -> tuple[I32, I32, I32]:
    """``(nodes, pos, size)`` of the forest in depth-first preorder."""

class Kernels:
    """Per-query kernels over a snapshot's read-only CSR arrays."""

    n_nodes: int
    n_events: int

    def __init__(
        self,
        own_ptr: I64,
        own_rank: I32,
        lk_ptr: I64,
        lk_parent: I32,
        lk_start: I32,
        lk_end: I32,
        seg_ptr: I64,
        seg_start: I32,
        seg_party: I32,
        order: I32,
        parent_now: I32,
        hashes: I64,
        hash_node: I32,
        epcs: npt.NDArray[np.object_],
        t_sorted: I64,
    ) -> None: ...
    def rank_at(self, t: int) -> int:
        """Rank of the last event at or before ``t`` (microseconds), -1 if none."""
    def node_of(self, epc: object) -> int:
        """Node id of an EPC string, -1 if unknown (or not a ``str``)."""
    def history(self, node: int) -> I64:
        """Input indices of the node's own and inherited events, in rank order."""
    def custodian_at(self, node: int, rank: int) -> int:
        """Party id holding the node after event ``rank`` (-1: nobody/unknown)."""
    def containers(self, node: int) -> I32:
        """Parent, grandparent, ... now."""
    def held_by(self, cands: I32, via: int, r_from: int, r_to: int) -> npt.NDArray[np.bool_]:
        """Mask: a custody spell of ``via`` meets the rank window ``[r_from, r_to]``."""
