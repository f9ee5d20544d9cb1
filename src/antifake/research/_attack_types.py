"""The parameters of the attacks and of the noise on genuine codes, and the ground truth
they leave (see `antifake.research.attacks`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from antifake.epcis.kinds import EventKind
from antifake.errors import AntifakeError
from antifake.research.sim import Simulation

#: Attack names, in ground-truth order.
ATTACKS = ("clone", "stolen", "diversion", "counterfeit_listing", "unauthorized_sale",
           "brute_force", "repack")
#: What the issue's targets call them, and the rules meant to catch them.
CATEGORIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "copied codes": (("clone",), ("impossible_travel", "over_scanned")),
    "diversion": (("diversion",), ("diversion",)),
    "unauthorised sellers": (("counterfeit_listing", "unauthorized_sale"),
                             ("unauthorized_seller", "duplicate_listing")),
    "stolen goods": (("stolen",), ("inactive_stamp_activity",)),
    "PIN brute force": (("brute_force",), ("claim_lockout",)),
    "repacked fakes": (("repack",), ("out_of_order",)),
}

_S = 1_000_000
_H = 3600 * _S
_D = 24 * _H
_K = EventKind
_INTENT_OK, _INTENT_WRONG, _INTENT_MISTYPED = 1, 2, 3


class AttackError(AntifakeError, ValueError):
    """Bad attack or noise parameters."""


def _frac(name: str, v: float) -> None:
    if isinstance(v, bool) or not isinstance(v, int | float) or not 0.0 <= v <= 1.0:
        raise AttackError(f"{name} must be a fraction in [0, 1], not {v!r}")


def _count(name: str, v: int) -> None:
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0:
        raise AttackError(f"{name} must be an integer >= 0, not {v!r}")


@dataclass(frozen=True)
class AttackMix:
    """How much of each attack (fractions of items or cases; counts of pallets)."""

    clone_fraction: float = 0.001  # items whose code is copied
    clone_copies: float = 6.0  # mean fakes per copied code (at least 3)
    clone_scan_p: float = 0.85  # a fake is scanned by its buyer
    clone_claim_p: float = 0.3  # a scanned fake is claimed
    clone_min_km: float = 150.0  # fakes are sold at least this far from the genuine one
    stolen_pallets: int = 1
    stolen_resurface: float = 0.3  # stolen items seen again
    diverted_case_fraction: float = 0.0016  # delivered cases diverted
    diverted_pallets: int = 1  # held pallets sold off to another region
    diverted_pallet_scan_p: float = 0.4
    listing_fraction: float = 0.001  # codes listed by counterfeit shops
    listing_shops: int = 5
    listing_duplicate_p: float = 0.2  # a listed code listed by 2-3 shops
    unauthorized_sale_fraction: float = 0.0003  # copied codes sold by a shop that never had them
    unauthorized_shops: int = 3
    brute_force_fraction: float = 0.0002
    brute_force_give_up_p: float = 0.1  # stops after 3-4 wrong PINs (no lock)
    repacked_pallets: int = 1
    repack_cases: int = 3
    repack_items: int = 10
    repack_backdated_p: float = 0.5

    def __post_init__(self) -> None:
        for f in ("clone_fraction", "clone_scan_p", "clone_claim_p", "stolen_resurface",
                  "diverted_case_fraction", "diverted_pallet_scan_p", "listing_fraction",
                  "listing_duplicate_p", "unauthorized_sale_fraction", "brute_force_fraction",
                  "brute_force_give_up_p", "repack_backdated_p"):
            _frac(f, getattr(self, f))
        for f in ("stolen_pallets", "diverted_pallets", "listing_shops", "unauthorized_shops",
                  "repacked_pallets", "repack_cases", "repack_items"):
            _count(f, getattr(self, f))
        if not self.clone_copies >= 3 or not self.clone_min_km >= 0:
            raise AttackError("clone_copies >= 3 and clone_min_km >= 0 required")

    @classmethod
    def none(cls) -> AttackMix:
        """No attack at all."""
        zero = {f: 0 for f in ("stolen_pallets", "diverted_pallets", "repacked_pallets")}
        return cls(clone_fraction=0.0, diverted_case_fraction=0.0, listing_fraction=0.0,
                   unauthorized_sale_fraction=0.0, brute_force_fraction=0.0, **zero)

    def only(self, *attacks: str) -> AttackMix:
        """This mix with every attack but ``attacks`` switched off."""
        bad = [a for a in attacks if a not in ATTACKS]
        if bad:
            raise AttackError(f"unknown attacks {bad}")
        off: dict[str, Any] = {}
        if "clone" not in attacks:
            off["clone_fraction"] = 0.0
        if "stolen" not in attacks:
            off["stolen_pallets"] = 0
        if "diversion" not in attacks:
            off.update(diverted_case_fraction=0.0, diverted_pallets=0)
        if "counterfeit_listing" not in attacks:
            off["listing_fraction"] = 0.0
        if "unauthorized_sale" not in attacks:
            off["unauthorized_sale_fraction"] = 0.0
        if "brute_force" not in attacks:
            off["brute_force_fraction"] = 0.0
        if "repack" not in attacks:
            off["repacked_pallets"] = 0
        return replace(self, **off)


@dataclass(frozen=True)
class Noise:
    """Realistic noise on genuine codes (fractions)."""

    missed_scan: float = 0.02  # consumer scans lost
    missed_sale: float = 0.005  # retail sales never recorded
    missed_receipt: float = 0.005  # retailer receipts never recorded
    late_upload: float = 0.01  # events delivered long after (rows moved to the end)
    skewed_parties: float = 0.1  # businesses whose clock is off ...
    clock_skew_s: float = 300.0  # ... by up to this much
    family: float = 0.05  # scanned items a family scans 2-5 more times at home
    traveller: float = 0.01  # scanned items scanned once or twice far from home
    claims: float = 0.1  # sold items claimed by their buyer
    claim_typos: float = 0.1  # of those, after one or two mistyped or wrong PINs
    retail_listings: float = 0.005  # unsold items listed online by the retailer holding them

    def __post_init__(self) -> None:
        for f in ("missed_scan", "missed_sale", "missed_receipt", "late_upload",
                  "skewed_parties", "family", "traveller", "claims", "claim_typos",
                  "retail_listings"):
            _frac(f, getattr(self, f))
        if not 0 <= self.clock_skew_s <= 86_400:
            raise AttackError("clock_skew_s must lie in [0, 86400]")

    @classmethod
    def none(cls) -> Noise:
        return cls(0, 0, 0, 0, 0, 0.0, 0, 0, 0, 0, 0)

    def scaled(self, factor: float) -> Noise:
        """Every rate times ``factor`` (capped at 1), skew times ``factor``."""
        vals = {f: min(1.0, getattr(self, f) * factor) for f in (
            "missed_scan", "missed_sale", "missed_receipt", "late_upload", "skewed_parties",
            "family", "traveller", "claims", "claim_typos", "retail_listings")}
        return replace(self, clock_skew_s=min(86_400.0, self.clock_skew_s * factor), **vals)


@dataclass
class AttackTruth:
    """Every attacked code: node index, EPC, attack name, start (microseconds: the first
    event of the attack on that code) and whether any event reveals it (``observable``: a
    stolen item never seen again is attacked but leaves no trace)."""

    nodes: np.ndarray
    codes: np.ndarray
    attack: np.ndarray
    start: np.ndarray
    observable: np.ndarray

    def codes_of(self, *attacks: str) -> set[str]:
        m = np.isin(self.attack, attacks)
        return set(self.codes[m].tolist())

    def counts(self) -> dict[str, int]:
        return {a: int(np.count_nonzero(self.attack == a)) for a in ATTACKS}


@dataclass(frozen=True, eq=False, repr=False)
class AttackedSimulation(Simulation):
    """A [`Simulation`][antifake.research.sim.Simulation] with attacks and noise: also
    ``ev_detail`` (claim results and decommissioning reasons,
    [`antifake.detect.CLAIM_DETAILS`][antifake.detect.CLAIM_DETAILS]), ``ev_record`` (when the
    registry recorded each event: the true time plus the upload delay, whatever the clock of
    the party that made the event says), ``attacks``
    ([`AttackTruth`][antifake.research.attacks.AttackTruth]) and ``noise`` (node indices of
    genuine codes by noise kind). ``late_from``: rows from here on are late uploads (their
    times are earlier)."""

    attacks: AttackTruth | None = field(default=None, repr=False)
    noise: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    late_from: int = 0
    mix: AttackMix | None = None
    #: Rows before this are the genuine chain's (kept) events, rows from it on were added by
    #: attacks and noise (before any late upload moved rows to the end).
    added_from: int = 0
    noise_model: Noise | None = None

    def prefix(self, n_events: int) -> AttackedSimulation:
        """The simulation as a registry saw it after its first ``n_events`` rows (nodes and
        parties kept): for incremental detection."""
        n = int(n_events)
        if not 0 <= n <= self.n_events:
            raise AttackError(f"prefix: 0 <= n_events <= {self.n_events}")
        keep = self.inc_event < n
        return replace(self, ev_ids=self.ev_ids[:n], ev_time=self.ev_time[:n],
                       ev_kind=self.ev_kind[:n], ev_by=self.ev_by[:n], ev_src=self.ev_src[:n],
                       ev_dst=self.ev_dst[:n], ev_lat=self.ev_lat[:n], ev_lon=self.ev_lon[:n],
                       agg_parent=self.agg_parent[:n], ev_detail=self.ev_detail[:n],
                       ev_record=self.ev_record[:n] if len(self.ev_record) else self.ev_record,
                       inc_event=self.inc_event[keep], inc_node=self.inc_node[keep])
