"""What detection is tuned by: the alert kinds, the act-on-it score and
[`DetectConfig`][antifake.detect.DetectConfig] (see `antifake.detect`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from antifake.epcis.kinds import (
    ALERT_KINDS,
    OTHER_REASON,
    REASON_DETAILS,
)
from antifake.errors import AntifakeError

#: Scores at or above this mean "act on it".
ACT_ON_IT = 0.5
#: Alert kinds, in kernel order.
KINDS = ALERT_KINDS
_KIND_ID = {k: i for i, k in enumerate(KINDS)}
_A_DIVERSION = _KIND_ID["diversion"]
_REASON_NAME = {v: k for k, v in REASON_DETAILS.items()} | {OTHER_REASON: "other"}


class DetectError(AntifakeError, ValueError):
    """Detection was given something it cannot use (a bad source, column or setting)."""


@dataclass(frozen=True)
class DetectConfig:
    """Thresholds of every rule (see the module documentation)."""

    #: impossible_travel: two observations farther apart than this ...
    travel_km: float = 50.0
    #: ... closer in time than a door-to-door trip: ``travel_overhead_h`` (getting to and
    #: from the airport or station, waiting) plus the distance at ``travel_kmh``.
    travel_kmh: float = 800.0
    #: The fixed part of a door-to-door trip, hours.
    travel_overhead_h: float = 1.5
    #: How far a reported location may be from the truth (GPS, cell towers), km: taken off
    #: each end of a distance.
    location_km: float = 5.0
    #: Clocks may disagree by this much: added to travel times, and the slack of order checks.
    clock_skew_s: float = 900.0
    #: over_scanned / diversion: an observation this far from the item's home is "far".
    far_km: float = 50.0
    #: over_scanned: this many distinct far scanners act.
    far_scanners: int = 2
    #: over_scanned: this many distinct scanners in all act ...
    max_scanners: int = 15
    #: ... and this many are a weak signal (None: 70% of max_scanners).
    weak_scanners: int | None = None
    #: Regions: a point farther than this from every region's centre is outside all of them.
    region_radius_km: float = 300.0
    #: diversion: a delivery group is diverted when this many of its items ...
    diversion_min_items: int = 3
    #: ... and this share of its observed items are seen outside its regions.
    diversion_min_fraction: float = 0.3
    #: diversion, items whose delivery was never recorded: a case (the items one event
    #: packed) is diverted when this share of its observed items are seen outside the
    #: regions their recorded chain reaches (above 1: never).
    diversion_pack_fraction: float = 0.6
    #: claim_lockout: wrong PINs that lock a claim (the registry's MAX_WRONG_PINS).
    max_wrong_pins: int = 5
    #: Phones: use who scanned (a phone's home is the region where most of its scans are).
    #: A far scan by the item's own phone is a traveller's; by a phone living far away,
    #: close in time to a scan of a phone living at the item's home, or between two of them,
    #: a copy's.
    use_phones: bool = True
    #: How far the clock of a phone with few records may be off, hours: widens the time
    #: within which a far phone's scan and a home phone's scan make a copy.
    phone_clock_h: float = 3.0
    #: A phone lives at an item's home when the centre of its home region is this close
    #: (km); farther, it lives far away.
    phone_home_km: float = 150.0
    #: over_scanned: this many distinct consumers' phones on one code, one of them scanning it
    #: far from where it was sold (or its last holder), act (an owner keeps one phone, a
    #: household adds one or two); 0: off.
    phone_scanners: int = 5
    #: unauthorized_seller: a shop selling past a gap in the records whose region's centre is
    #: farther than this (km) from every region the recorded chain took the item to is no
    #: plausible next step of that chain (a distributor serves its own and nearby regions).
    gap_reach_km: float = 300.0
    #: Event ids kept as evidence per alert.
    max_evidence: int = 16
    #: Alerts below this score are dropped (0: keep every weak signal).
    min_score: float = 0.0
    #: Rules to run.
    kinds: frozenset[str] = field(default_factory=lambda: frozenset(KINDS))
    #: Threads for the screening pass.
    threads: int = 2

    def __post_init__(self) -> None:
        def num(name: str, lo: float, hi: float = math.inf, integer: bool = False) -> None:
            v = getattr(self, name)
            ok = isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
            if ok and integer:
                ok = float(v) == int(v)
            if not ok or not lo <= float(v) <= hi:
                what = "an integer" if integer else "a number"
                raise DetectError(f"DetectConfig.{name} must be {what} in [{lo:g}, {hi:g}], "
                                  f"not {v!r}")

        num("travel_km", 0.001, 40_000)
        num("travel_kmh", 1.0, 1e7)
        num("travel_overhead_h", 0.0, 48.0)
        num("location_km", 0.0, 1000.0)
        num("clock_skew_s", 0, 86_400 * 30)
        num("far_km", 0.001, 40_000)
        num("far_scanners", 1, 1000, True)
        num("max_scanners", 1, 60_000, True)
        if self.weak_scanners is not None:
            num("weak_scanners", 1, 60_000, True)
        num("region_radius_km", 1.0, 40_000)
        num("diversion_min_items", 1, 1_000_000, True)
        num("diversion_min_fraction", 0.0, 1.0)
        num("diversion_pack_fraction", 0.0, 2.0)
        num("max_wrong_pins", 1, 1000, True)
        num("phone_clock_h", 0.0, 24.0 * 30)
        num("phone_home_km", 0.0, 40_000)
        num("gap_reach_km", 0.0, 40_000)
        num("phone_scanners", 0, 60_000, True)
        if not isinstance(self.use_phones, bool):
            raise DetectError(f"DetectConfig.use_phones must be a bool, not {self.use_phones!r}")
        num("max_evidence", 2, 4096, True)
        num("min_score", 0.0, 1.0)
        num("threads", 1, 64, True)
        kinds = self.kinds
        if isinstance(kinds, str) or not isinstance(kinds, Iterable):
            raise DetectError("DetectConfig.kinds must be a set of alert kinds")
        kinds = frozenset(kinds)
        bad = sorted(str(k) for k in kinds if k not in _KIND_ID)
        if bad:
            raise DetectError(f"unknown alert kinds {bad}; expected some of {', '.join(KINDS)}")
        object.__setattr__(self, "kinds", kinds)

    @property
    def weak_scanner_count(self) -> int:
        if self.weak_scanners is not None:
            return int(min(self.weak_scanners, self.max_scanners))
        return max(1, math.ceil(0.7 * self.max_scanners))

    def _kernel_cfg(self) -> dict[str, Any]:
        return {
            "far_km": float(self.far_km), "travel_km": float(self.travel_km),
            "travel_kmh": float(self.travel_kmh),
            "travel_overhead_h": float(self.travel_overhead_h),
            "location_km": float(self.location_km),
            "skew_us": int(round(float(self.clock_skew_s) * 1e6)),
            "use_phones": bool(self.use_phones), "phone_clock_h": float(self.phone_clock_h),
            "phone_home_km": float(self.phone_home_km),
            "gap_reach_km": float(self.gap_reach_km),
            "phone_scanners": int(self.phone_scanners),
            "max_scanners": int(self.max_scanners), "weak_scanners": self.weak_scanner_count,
            "far_scanners": int(self.far_scanners), "max_wrong": int(self.max_wrong_pins),
            "max_ev": int(self.max_evidence),
            "kinds_mask": sum(1 << _KIND_ID[k] for k in self.kinds),
        }


def _config_fields() -> list[str]:  # for docs and the CLI
    return [f.name for f in fields(DetectConfig)]
