"""Compact codes for what an event does to a stamp, shared by storage, graph and detection.

The registry stores every event in full (EPCIS JSON-LD); the trace graph and the detection
kernels see only these small integer codes, derived from the event type, action and bizStep.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["EventKind", "NO_PARTY"]

NO_PARTY = -1


class EventKind(IntEnum):
    """What an event means for custody, containment and lifecycle."""

    COMMISSION = 0  # ObjectEvent ADD commissioning: the stamp comes into being, held by `by`
    AGGREGATE = 1  # AggregationEvent ADD: children packed into parent
    DISAGGREGATE = 2  # AggregationEvent DELETE: children (or all) unpacked from parent
    SHIP = 3  # shipping from `source` to `destination`: custody stays with source until RECEIVE
    RECEIVE = 4  # receiving by `by`: custody moves to `by`
    SELL = 5  # retail sale to a consumer: no party holds it afterwards
    SCAN = 6  # an observation (consumer app, inspector); no custody change
    LIST = 7  # a marketplace listing by a seller; no custody change
    DECOMMISSION = 8  # ObjectEvent DELETE decommissioning (reason kept in the event)
    REACTIVATE = 9  # undo of a decommission
    CLAIM = 10  # a PIN claim attempt (ok / wrong pin / locked kept in the event)
    OTHER = 11  # any other EPCIS event (imported from other systems)
