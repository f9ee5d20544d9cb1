"""The vocabulary every layer shares, stated once: what an event does to a stamp (`EventKind`),
the detail codes of claims and decommissioning reasons, the reasons a listing is refused and the
alert kinds of detection.

The registry stores every event in full (EPCIS JSON-LD); the trace graph and the detection
kernels see only these small integer codes. The native kernels read the same values: the build
writes them into a Cython include file (``_vocab.pxi``) generated from this module.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

__all__ = [
    "ALERT_KINDS",
    "CLAIM_DETAILS",
    "EventKind",
    "LISTING_FLAGS",
    "NO_PARTY",
    "OTHER_REASON",
    "REASON_DETAILS",
    "detail_code",
    "doc_detail",
    "reason_of_disposition",
]

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
    COMPLAINT = 12  # a consumer's report of a suspected fake: no custody change, not activity


#: Per-event detail codes (``ev_detail``): claim results ...
CLAIM_DETAILS = {"ok": 1, "wrong_pin": 2, "locked": 3, "already_claimed": 4, "mistyped": 5,
                 "inactive": 6, "refused": 7}
#: ... and decommissioning reasons (any other reason: `OTHER_REASON`).
REASON_DETAILS = {"sold": 16, "exported": 17, "destroyed": 18, "recalled": 19, "stolen": 20,
                  "sample": 21, "expired": 22, "damaged": 23, "dispensed": 24}
OTHER_REASON = 31
#: CBV 2.0 dispositions that name a decommissioning reason.
_DISPOSITION_REASON = {"retail_sold": "sold", "destroyed": "destroyed", "recalled": "recalled",
                       "stolen": "stolen", "expired": "expired", "damaged": "damaged",
                       "dispensed": "dispensed"}

#: Reasons a marketplace listing is refused, as bits of ``ListingChecks.flags``.
LISTING_FLAGS = {"unknown_code": 1, "not_in_chain": 2, "not_custodian": 4, "sold": 8,
                 "claimed": 16, "decommissioned": 32, "listed_by_others": 64,
                 "suspected_clone": 128}

#: Alert kinds of detection, in kernel order.
ALERT_KINDS = ("impossible_travel", "over_scanned", "diversion", "unauthorized_seller",
               "inactive_stamp_activity", "out_of_order", "claim_lockout", "duplicate_listing")


def reason_of_disposition(disposition: str | None) -> str | None:
    """The decommissioning reason a CBV disposition names (``"retail_sold"`` -> ``"sold"``, a
    full URI or CURIE accepted), else the disposition's own last segment."""
    if not disposition:
        return None
    tail = disposition.rsplit("Disp-", 1)[-1].rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return _DISPOSITION_REASON.get(tail, tail)


def detail_code(claim: str | None, reason: str | None) -> int:
    """The detail code of a claim result or a decommissioning reason (0: neither)."""
    if claim is not None:
        return CLAIM_DETAILS.get(claim, 0)
    if reason is None:
        return 0
    return REASON_DETAILS.get(reason, OTHER_REASON)


def doc_detail(doc: Any) -> int:
    """The detail code of a stored claim or decommissioning event's EPCIS JSON (a dict or its
    text); 0 when it names none."""
    import json

    if isinstance(doc, (str, bytes)):
        try:
            doc = json.loads(doc)
        except ValueError:
            return 0
    if not isinstance(doc, dict):
        return 0
    claim = reason = None
    for k, v in doc.items():
        if not isinstance(k, str) or not isinstance(v, str):
            continue
        if k == "af:claim" or (claim is None and k.endswith(":claim")):
            claim = v
        elif k == "af:reason" or (reason is None and k.endswith(":reason")):
            reason = v
    if claim is None and reason is None:
        disp = doc.get("disposition")
        reason = reason_of_disposition(disp) if isinstance(disp, str) else None
    return detail_code(claim, reason)
