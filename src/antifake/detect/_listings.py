"""Marketplace listings: may this seller list this code? ([`check_listing`]
[antifake.detect.check_listing], [`check_listings`][antifake.detect.check_listings]).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

import antifake.detect._detect as _detect
from antifake.detect._config import _REASON_NAME, DetectConfig, DetectError
from antifake.detect._data import Source, TraceData, TraceSource, _as_data
from antifake.epcis.kinds import (
    LISTING_FLAGS,
)
from antifake.errors import AntifakeError, UnknownStampError


@dataclass(frozen=True)
class ListingCheck:
    """May ``seller`` list this code? ``ok`` when the code is genuine and registered, active,
    unclaimed, held by the seller now, and listed by no other seller; else ``reasons``."""

    ok: bool
    reasons: list[str]
    epc: str | None
    custodian: str | None
    flags: int = 0

    def __bool__(self) -> bool:
        return self.ok


class ListingChecks(NamedTuple):
    """Bulk results, aligned with the input: ``ok`` (bool), ``flags`` (uint16 bits of
    [`LISTING_FLAGS`][antifake.detect.LISTING_FLAGS]), ``reason`` (decommissioning detail
    code, 0 none)."""

    ok: np.ndarray
    flags: np.ndarray
    reason: np.ndarray


def listing_reasons(flags: int, reason: int = 0) -> list[str]:
    """Names of the bits set in a ``ListingChecks.flags`` value."""
    out = [name for name, bit in LISTING_FLAGS.items() if flags & bit]
    if flags & LISTING_FLAGS["decommissioned"] and reason:
        out[out.index("decommissioned")] = f"decommissioned ({_REASON_NAME.get(reason, 'other')})"
    return out


def _resolve(source: Source, data: TraceData, code: Any) -> tuple[int, str | None, str | None]:
    """(node, epc, why unknown) of a code."""
    if isinstance(source, TraceSource):
        try:
            epc = source.resolve(code)
        except UnknownStampError as exc:
            return -1, None, str(exc)
        except AntifakeError as exc:
            return -1, None, str(exc)
    else:
        found = code if isinstance(code, str) else getattr(code, "epc", None)
        if not isinstance(found, str):
            return -1, None, f"not a code: {type(code).__name__}"
        epc = found
    try:
        return data.graph.node_id(epc), epc, None
    except UnknownStampError as exc:
        return -1, epc, str(exc)


def check_listings(source: Source, codes: Sequence[Any], sellers: Sequence[str] | str
                   ) -> ListingChecks:
    """Check many listings at once (``sellers``: one per code, or one for all). Codes a
    Registry cannot resolve (forged, unknown) get ``unknown_code``."""
    data = _as_data(source)
    codes = list(codes)
    if isinstance(sellers, str):
        sellers = [sellers] * len(codes)
    sellers = list(sellers)
    if len(sellers) != len(codes):
        raise DetectError(f"{len(codes)} codes but {len(sellers)} sellers")
    nodes = np.fromiter((_resolve(source, data, c)[0] for c in codes), dtype=np.int32,
                        count=len(codes))
    sel = np.fromiter((data.party_index(s) for s in sellers), dtype=np.int32,
                      count=len(sellers))
    k = data.kernel(DetectConfig())
    flags, reason = _detect.listing_flags(k, nodes, sel, data._garrays["cust_now"])
    flags[_suspected(source, data, nodes)] |= LISTING_FLAGS["suspected_clone"]
    return ListingChecks(flags == 0, flags, reason)


def _suspected_one(source: Source, epc: str | None) -> bool:
    """Whether a registry source has flagged ``epc`` as copied (one indexed lookup)."""
    return epc is not None and isinstance(source, TraceSource) and source.is_suspected(epc)


def _suspected(source: Source, data: TraceData, nodes: np.ndarray) -> np.ndarray:
    """Which graph nodes a registry source has flagged as copied (Registry.flag_suspected)."""
    if not isinstance(source, TraceSource):
        return np.zeros(len(nodes), dtype=bool)
    ids = []
    for epc in source.suspected():
        with contextlib.suppress(UnknownStampError):
            ids.append(data.graph.node_id(epc))
    return np.isin(nodes, np.array(ids, dtype=np.int64)) & (nodes >= 0)


def check_listing(source: Source, code: Any, seller: str) -> ListingCheck:
    """Whether ``seller`` may list ``code`` (see
    [`ListingCheck`][antifake.detect.ListingCheck]); records nothing."""
    if not isinstance(seller, str) or not seller:
        raise DetectError("seller must be a party id")
    data = _as_data(source)
    node, epc, why = _resolve(source, data, code)
    if node < 0:
        return ListingCheck(False, [f"unknown or forged code: {why}"], epc, None,
                            LISTING_FLAGS["unknown_code"])
    p = data.party_index(seller)
    k = data.kernel(DetectConfig())
    flags, reason = _detect.listing_flags(k, np.array([node], np.int32),
                                          np.array([p], np.int32), data._garrays["cust_now"])
    f, rsn = int(flags[0]), int(reason[0])
    if _suspected_one(source, epc):
        f |= LISTING_FLAGS["suspected_clone"]
    holder = data.graph.custodian(epc)
    reasons = []
    if f & LISTING_FLAGS["decommissioned"]:
        reasons.append(f"the stamp is decommissioned ({_REASON_NAME.get(rsn, 'reason unknown')})")
    if f & LISTING_FLAGS["claimed"]:
        reasons.append("the stamp was claimed by a buyer")
    if f & (LISTING_FLAGS["not_custodian"] | LISTING_FLAGS["not_in_chain"]):
        who = holder or ("nobody: it was sold to a consumer" if f & LISTING_FLAGS["sold"]
                         else "nobody (unknown)")
        never = " and never held it" if f & LISTING_FLAGS["not_in_chain"] else ""
        reasons.append(f"{seller} does not hold this stamp{never}: its custodian is {who}")
    if f & LISTING_FLAGS["listed_by_others"]:
        reasons.append("the code is listed by other sellers too")
    if f & LISTING_FLAGS["suspected_clone"]:
        reasons.append("copies of this code are in circulation (flagged by detection)")
    return ListingCheck(f == 0, reasons, epc, holder, f)
