"""Catch fakes in the trace: copied codes, diversion, unauthorised sellers and more.

[`detect`][antifake.detect.detect] runs every rule over a snapshot of the trace and returns
[`Alert`][antifake.detect.Alert] objects ranked by score;
[`Detector`][antifake.detect.Detector] keeps state so that
[`Detector.update`][antifake.detect.Detector.update] re-examines only the codes that new
events touch, with the same result as a full run.
[`check_listing`][antifake.detect.check_listing] and
[`check_listings`][antifake.detect.check_listings] answer a marketplace's question: may this
seller list this code?

Rules (``Alert.kind``), each tuned by a field of
[`DetectConfig`][antifake.detect.DetectConfig]:

``impossible_travel``
    two consecutive located observations of one code (scans, claims, sales) more than
    ``travel_km`` apart and closer in time (widened by ``clock_skew_s``) than a door-to-door
    trip: ``travel_overhead_h`` plus the distance (less ``location_km`` at each end) at
    ``travel_kmh``. Two devices: act on it; one device jumping: weak (a GPS glitch). An
    observation far from a sure home (where it was sold, or the shop holding it) and a scan
    or claim with no location by another device, too close in time for the trip from home:
    acts, weighed below a located pair.
``over_scanned``
    more distinct scanners than one item plausibly has: ``far_scanners`` or more distinct
    scanners more than ``far_km`` from the item's *home* (where it was sold; else where its
    holder is, or its first consumer observation when that holder is a maker or wholesaler),
    observations far from home, back, and far again (two populations of owners), or
    ``max_scanners`` distinct scanners in all. One far scanner is a traveller: weak.
``diversion``
    scans or sales outside the regions its custody chain delivered to. A *delivery group*
    (the items a holder received in one event: a case, a pallet) is diverted when at least
    ``diversion_min_items`` of its items, and ``diversion_min_fraction`` of those observed,
    are seen outside: the alert names every item of the group. A lone item seen outside is
    weak (a traveller, or a clone: see ``over_scanned``); a sale outside by a party off the
    chain acts. Regions a SHIP names as destination, and shops that sold it past a gap in the
    records, count as delivered. Items no diverted delivery group names are grouped by the
    event that packed them (a case): a case whose delivery was never recorded is diverted
    when ``diversion_pack_fraction`` of its observed items are seen outside.
``unauthorized_seller``
    sold, listed, or claimed by a business, by a party that never held the item and was
    not the destination of a shipment of it. A listing by a former holder is weak, and so is
    a sale by a shop when the recorded custody stops at a maker or wholesaler (a gap in the
    records) unless a second shop sells the code too.
``inactive_stamp_activity``
    activity on a decommissioned stamp (by reason: anything on a stolen one; sale, listing or
    shipping of a recalled or destroyed one; a sale or listing of one decommissioned as sold,
    exported ...) or on a claimed one (another claim attempt, a sale, a listing).
``out_of_order``
    events before the stamp's commissioning, an uncommissioned item packed into a known
    container, custody after a sale to a consumer (sold before received), a receipt before
    its shipment, packing or unpacking by a party outside the chain.
``claim_lockout``
    ``max_wrong_pins`` wrong PINs (the registry locks the claim); 3 or more without a lock:
    weak.
``duplicate_listing``
    one code listed by several sellers.

Scores lie in [0, 1]; 0.5 and above means "act on it"
([`ACT_ON_IT`][antifake.detect.ACT_ON_IT]), below is a weak signal kept for context. Alerts
are deduplicated per code and kind (a code appears in at most one alert of each kind) and ranked by
score. Evidence lists event ids in (time, input) order, at most ``max_evidence`` per alert.

How it runs (1 M items, 2 M scans: about 0.3-0.4 s on 2 cores once the snapshot has been
screened before, 0.4-0.6 s the first time; see ``docs/detection.md`` and
``benchmarks/test_bench_detect.py``): a ``nogil`` *screen* kernel marks the few nodes any rule
could fire on. It reads the custody segments in node order and the incidence rows, which it
radix-partitions once per snapshot into buckets of 8,192 nodes so that a bucket's node state
stays in cache while its rows stream past. The *analyse* kernel then runs every rule on those
candidates (about 3.5 % of the nodes) from the snapshot's CSR arrays. No Python object exists
per event; the alert objects are built in one C loop.

Clocks: given record times (``TraceData.from_arrays(..., ev_record=...)``, EPCIS
``recordTime``; a simulation's ``ev_record``), each party's clock offset is estimated
([`clock_offsets`][antifake.detect.clock_offsets]) and its event times corrected before the
graph is built; ``clock_skew_s`` then covers only what remains.

Inputs: a [`Registry`][antifake.registry.Registry], an
[`Simulation`][antifake.research.sim.Simulation] (or
[`AttackedSimulation`][antifake.research.attacks.AttackedSimulation]), or a
[`TraceData`][antifake.detect.TraceData] (event columns, a
[`TraceGraph`][antifake.graph.TraceGraph] and party metadata). The graph snapshot keeps no
event kinds, parties or coordinates, so a bare ``TraceGraph`` is not enough.
"""

from __future__ import annotations

from antifake.detect._alerts import Alert
from antifake.detect._config import ACT_ON_IT, KINDS, DetectConfig, DetectError
from antifake.detect._config import _config_fields as _config_fields
from antifake.detect._data import (
    SimulationLike,
    Source,
    TraceData,
    TraceSource,
    clock_offsets,
    corrected_times,
    haversine_km,
)
from antifake.detect._data import (
    _as_data as _as_data,
)
from antifake.detect._detector import Detector, detect
from antifake.detect._listings import (
    ListingCheck,
    ListingChecks,
    check_listing,
    check_listings,
    listing_reasons,
)
from antifake.epcis.kinds import CLAIM_DETAILS, LISTING_FLAGS, REASON_DETAILS

__all__ = [
    "ACT_ON_IT",
    "KINDS",
    "Alert",
    "DetectConfig",
    "DetectError",
    "Detector",
    "ListingCheck",
    "ListingChecks",
    "LISTING_FLAGS",
    "Source",
    "SimulationLike",
    "TraceData",
    "TraceSource",
    "CLAIM_DETAILS",
    "REASON_DETAILS",
    "check_listing",
    "clock_offsets",
    "corrected_times",
    "haversine_km",
    "check_listings",
    "detect",
    "listing_reasons",
]
