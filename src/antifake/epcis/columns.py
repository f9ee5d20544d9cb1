"""A trace as columns: the one declaration of the arrays that a registry's snapshot, a
simulation and detection's input all hold (nodes, parties, events, incidences, packing and
stamp keys), in the form [`TraceGraph.from_arrays`][antifake.graph.TraceGraph.from_arrays]
takes them."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field, fields
from typing import Any, ClassVar

import numpy as np

__all__ = ["EventColumns"]


def _no_detail() -> np.ndarray:
    return np.zeros(0, dtype=np.uint8)


def _no_record() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


@dataclass(frozen=True, eq=False, repr=False)
class EventColumns:
    """A trace as columns (its repr counts them; the arrays can hold millions of rows).

    Nodes are EPCs (``epcs``), parties are ids (``parties``), events are rows; party and
    node references are row numbers (-1: none).

    - ``ev_ids``, ``ev_time`` (microseconds since the epoch, the event's ``eventTime``),
      ``ev_kind`` ([`EventKind`][antifake.epcis.kinds.EventKind]), ``ev_by`` / ``ev_src`` /
      ``ev_dst`` (party rows), ``ev_lat`` / ``ev_lon`` (NaN: no location): one entry per event.
    - ``inc_event`` / ``inc_node``: which nodes each event names (one row per pair).
    - ``agg_parent``: the container an aggregation event packs into (node row, -1: none).
    - ``node_key`` / ``node_batch``: the issuer key id and batch of each stamp node (-1: not
      a stamp).
    - ``party_role``, ``party_region``, ``party_lat``, ``party_lon``: party metadata (``None``
      / NaN: unknown).
    - ``ev_detail``: claim result or decommissioning reason code per event (uint8, 0: none;
      empty: not known), ``ev_record``: when the registry recorded each event (EPCIS
      ``recordTime``, microseconds; empty: not known).
    """

    epcs: np.ndarray
    parties: np.ndarray
    ev_ids: np.ndarray
    ev_time: np.ndarray
    ev_kind: np.ndarray
    ev_by: np.ndarray
    ev_src: np.ndarray
    ev_dst: np.ndarray
    ev_lat: np.ndarray
    ev_lon: np.ndarray
    inc_event: np.ndarray
    inc_node: np.ndarray
    agg_parent: np.ndarray
    node_key: np.ndarray
    node_batch: np.ndarray
    _: KW_ONLY
    party_role: np.ndarray
    party_region: np.ndarray
    party_lat: np.ndarray
    party_lon: np.ndarray
    ev_detail: np.ndarray = field(default_factory=_no_detail)
    ev_record: np.ndarray = field(default_factory=_no_record)

    #: The columns `TraceGraph.from_arrays` takes (the positional fields).
    GRAPH_FIELDS: ClassVar[tuple[str, ...]]
    #: Party metadata, as `TraceData.from_arrays` takes it.
    PARTY_FIELDS: ClassVar[tuple[str, ...]] = ("party_role", "party_region", "party_lat",
                                               "party_lon")

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({len(self.epcs):,} nodes, {len(self.parties):,} "
                f"parties, {len(self.ev_ids):,} events, {len(self.inc_event):,} incidences)")

    def graph_arrays(self) -> dict[str, Any]:
        """The keyword arguments of `TraceGraph.from_arrays`."""
        return {f: getattr(self, f) for f in self.GRAPH_FIELDS}

    def party_meta(self) -> dict[str, Any]:
        """Party metadata (role, region, latitude, longitude), by field name."""
        return {f: getattr(self, f) for f in self.PARTY_FIELDS}

    def event_extras(self) -> dict[str, Any]:
        """``ev_detail`` and ``ev_record`` where known (one entry per event), by field name."""
        n = len(self.ev_ids)
        return {f: a for f in ("ev_detail", "ev_record")
                if len(a := getattr(self, f)) == n and n}


EventColumns.GRAPH_FIELDS = tuple(f.name for f in fields(EventColumns) if not f.kw_only)
