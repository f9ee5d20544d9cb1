"""The storage interface: the [`Storage`][antifake.storage.abc.Storage] protocol every backend
implements and the rows it exchanges with the registry.

The registry (`antifake.registry`) holds the rules (lifecycle, claims, what an event means); a
storage backend holds the rows, makes every write transactional and answers the few queries the
registry needs. Two backends implement it: SQLite (`antifake.storage.sqlite`) and PostgreSQL
(`antifake.storage.postgres`); the SQL they share lives in `antifake.storage._sql`, and one
contract test suite runs the same cases on both.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from antifake.epcis.columns import EventColumns

__all__ = [
    "SCHEMA_VERSION",
    "EV_DTYPE",
    "INC_DTYPE",
    "CHUNK_CAP",
    "BatchPart",
    "EventRow",
    "Inserted",
    "NodeState",
    "Suspicion",
    "StampRow",
    "Storage",
    "TraceColumns",
]

SCHEMA_VERSION = 5
#: Packed event rows (database row ids; ``time``: eventTime, ``recorded``: recordTime).
EV_DTYPE = np.dtype([
    ("event", "<i8"), ("time", "<i8"), ("recorded", "<i8"), ("parent", "<i8"), ("by", "<i4"),
    ("src", "<i4"), ("dst", "<i4"), ("kind", "u1"), ("lat", "<f8"), ("lon", "<f8"),
    ("hash", "V32"),
])
#: Packed incidence rows (database row ids).
INC_DTYPE = np.dtype([("event", "<i8"), ("node", "<i8")])
#: Column chunks are merged only while the result stays at or under this many rows.
CHUNK_CAP = 1_000_000

# ----------------------------------------------------------------------------------------
# rows exchanged with the registry
# ----------------------------------------------------------------------------------------
@dataclass(slots=True)
class EventRow:
    """One event to store. ``epcs`` and ``parent`` are node keys (canonical EPCs); ``nodes``
    may give the node ids of ``epcs`` already (registered stamps); ``range_key`` names the list
    of ``doc`` that may be left to the nodes table when those ids are one contiguous range."""

    hash: bytes
    time_us: int
    kind: int
    doc: dict[str, Any]
    epcs: Sequence[str] = ()
    parent: str | None = None
    by: str | None = None
    src: str | None = None
    dst: str | None = None
    lat: float | None = None
    lon: float | None = None
    namespaces: Mapping[str, str] | None = None  # None: the default context
    nodes: np.ndarray | None = None
    range_key: str | None = None
    detail: int = 0  # claim result or decommissioning reason (antifake.epcis.kinds)


@dataclass(slots=True)
class Inserted:
    """What [`Storage.insert_events`][antifake.storage.abc.Storage.insert_events] did with one
    row: its event row id, whether it was new, and (for new rows) the node ids of its EPCs, in
    order."""

    event: int
    new: bool
    nodes: list[int] | None = None


@dataclass(slots=True)
class BatchPart:
    """A registered batch (or a streamed chunk of one: ``first_index`` > 0)."""

    issuer: str
    key_id: int
    batch_id: int
    first_index: int
    n: int
    digest: bytes
    owner: str | None = None
    gtin: str | None = None
    lot: str | None = None
    expiry: str | None = None
    registered_us: int = 0
    row: int | None = None  # database row id, once stored
    first_node: int | None = None


@dataclass(slots=True)
class StampRow:
    """A registered stamp as the store knows it."""

    node: int
    epc: str
    issuer: str
    key_id: int
    batch_id: int
    index: int
    serial: int | None


@dataclass(slots=True)
class NodeState:
    """Lifecycle and claim state of a node (defaults: active, unclaimed)."""

    node: int
    state: int = 0  # 0 active, 1 decommissioned
    reason: str | None = None
    since_us: int | None = None
    claim: int = 0  # 0 unclaimed, 1 claimed, 2 locked
    wrong_pins: int = 0
    attempts: int = 0
    claim_us: int | None = None


@dataclass(frozen=True)
class Suspicion:
    """Why a node's code is believed copied: the strongest detection alert that named it."""

    node: int
    kind: str  # the alert kind, e.g. "impossible_travel"
    score: float
    since_us: int  # first evidence (the alert's first event)
    evidence: str  # the alert's evidence event ids, as a JSON list


@dataclass(frozen=True, eq=False, repr=False)
class TraceColumns(EventColumns):
    """One snapshot of a store as columns (see
    [`EventColumns`][antifake.epcis.columns.EventColumns]): what the trace graph, detection
    and the command line share. Events are in storage order, ``ev_detail`` and ``ev_record``
    are always given. ``version`` is the store's version it was read at (a registry caches one
    snapshot per version)."""

    version: tuple[int, ...]


# ----------------------------------------------------------------------------------------
# the interface
# ----------------------------------------------------------------------------------------
@runtime_checkable
class Storage(Protocol):
    """What the registry needs from a store. Writes happen inside
    [`transaction`][antifake.storage.abc.Storage.transaction] (one
    atomic, serialised unit: all or nothing); reads outside a transaction see the last
    committed state, and [`snapshot`][antifake.storage.abc.Storage.snapshot] gives a consistent
    view across several reads."""

    url: str

    def transaction(self) -> contextlib.AbstractContextManager[None]: ...
    def snapshot(self) -> contextlib.AbstractContextManager[None]: ...
    def committed_reads(self) -> contextlib.AbstractContextManager[None]: ...
    def close(self) -> None: ...

    # parties
    def add_party(self, name: str, role: str | None, region: str | None,
                  lat: float | None, lon: float | None) -> int: ...
    def party_ids(self, names: Iterable[str]) -> dict[str, int]: ...
    def set_party_glns(self, party: int, keys: Sequence[tuple[str, str]]) -> None: ...
    def party_glns(self) -> dict[str, str]: ...
    def party_for_gln(self, key: str) -> str | None: ...
    def claim_parties(self) -> frozenset[str]: ...
    def set_claim_party(self, name: str, trusted: bool) -> None: ...

    # stamps
    def batch_parts(self, issuer: str, key_id: int, batch_id: int) -> list[BatchPart]: ...
    def insert_batch(self, part: BatchPart, epcs: Sequence[str],
                     serials: np.ndarray) -> np.ndarray: ...
    def stamp_by_index(self, issuer: str, key_id: int, batch_id: int,
                       index: int) -> StampRow | None: ...
    def stamp_by_node(self, node: int) -> StampRow | None: ...
    def node_by_key(self, key: str) -> int | None: ...
    def node_epc(self, node: int) -> str: ...

    # events
    def insert_events(self, rows: Sequence[EventRow]) -> list[Inserted]: ...
    def last_event(self, node: int) -> tuple[bytes, int] | None: ...
    def scan_summary(self, node: int, kind: int) -> tuple[int, int | None, Any]: ...
    def overlay_rows(self) -> list[tuple[Any, ...]]: ...
    def event_rows(self, hashes: Sequence[bytes]
                   ) -> dict[bytes, tuple[dict[str, Any], int | None]]: ...
    def export_rows(self, since_us: int | None
                    ) -> Iterator[tuple[bytes, dict[str, Any], int | None]]: ...
    def contexts(self) -> dict[int, dict[str, str]]: ...
    def uses_text(self, needle: str, ctx_ids: Sequence[int | None],
                  since_us: int | None) -> bool: ...

    # lifecycle
    def states(self, nodes: Sequence[int]) -> dict[int, NodeState]: ...
    def put_state(self, state: NodeState) -> None: ...
    def suspicions(self, nodes: Sequence[int] | None = None) -> dict[int, Suspicion]: ...
    def put_suspicions(self, rows: Sequence[Suspicion]) -> None: ...
    def clear_suspicions(self, nodes: Sequence[int]) -> int: ...

    # bulk
    def graph_columns(self) -> TraceColumns: ...
    def counts(self) -> dict[str, int]: ...
    def version(self) -> tuple[int, ...]: ...
    def check(self) -> dict[str, Any]: ...


