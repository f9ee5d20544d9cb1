"""Owners keep their phone: the simulator's owner phones, handovers and borrowed phones, the
phone rules of detection (a far scan by the item's own phone is a traveller's, by a phone
living far away near or before the owner's scans a copy's), incremental runs when a phone's
home moves, and the oracle bound on recall."""

from __future__ import annotations

import numpy as np
import pytest

from antifake.detect import DetectConfig, Detector, TraceData, detect
from antifake.epcis.kinds import CLAIM_DETAILS
from antifake.epcis.kinds import EventKind as K
from antifake.research.field import (
    AttackContext,
    FieldNoise,
    field_simulation,
    register_attack,
    unregister_attack,
)
from antifake.research.metrics import code_scores, score_table
from antifake.research.oracle import (
    ambiguous_codes,
    hidden_diversion,
    honest_lookalikes,
    recall_bounds,
)
from antifake.research.pipeline import research_chain
from test_detect import DN, HN, SG, Chain, act, check_exact, codes, sold_and_scanned

HOME = (10.78, 106.71)  # the owner's home in Saigon, near RET-SG


def owner_lives_in_saigon(c: Chain, phone: str = "app:owner") -> None:
    """The owner's phone scans their other items at home: it lives in Saigon."""
    for j, it in enumerate(("i3", "i4", "i5")):
        c.ev(f"{phone}-{it}", 70 + j, K.SCAN, [it], by=phone, at=HOME)


def owned_in_saigon() -> Chain:
    """A chain where i0 was sold and scanned, and its owner's phone lives in Saigon."""
    c = Chain()
    c.supply()
    sold_and_scanned(c, "i0")
    owner_lives_in_saigon(c)
    return c


# ---------------------------------------------------------------------------------------
# detection
# ---------------------------------------------------------------------------------------
def test_phones_home_regions() -> None:
    c = owned_in_saigon()
    c.ev("far", 300, K.SCAN, ["i0"], by="app:owner", at=HN)  # one trip: home stays Saigon
    c.ev("hn-1", 300, K.SCAN, ["i1"], by="app:hanoi", at=HN)
    data = c.data()
    reg = data.phone_regions()
    name = dict(enumerate(data.region_names))
    assert name[int(reg[data.party_index("app:owner")])] == "VN-SG"
    assert name[int(reg[data.party_index("app:hanoi")])] == "VN-HN"
    assert reg[data.party_index("RET-SG")] == -1  # businesses have no phone home
    assert reg.dtype == np.int32 and len(reg) == len(data.parties)


def test_a_traveller_with_their_own_phone_is_not_flagged() -> None:
    c = owned_in_saigon()
    c.ev("trip-1", 300, K.SCAN, ["i0"], by="app:owner", at=HN)  # on holiday in Hanoi
    c.ev("home-again", 400, K.SCAN, ["i0"], by="app:owner", at=HOME)
    c.ev("trip-2", 500, K.SCAN, ["i0"], by="app:owner", at=DN)  # and in Da Nang
    alerts = check_exact(c.data())
    assert act(alerts) == []
    over = [a for a in alerts if a.kind == "over_scanned"]
    assert codes(over) == ["i0"] and over[0].score < 0.5 and "traveller" in over[0].reason
    assert set(over[0].evidence) == {"trip-1", "trip-2"}
    # without phones the same trips are two visits far from home: a second population
    assert codes(act(check_exact(c.data(), DetectConfig(use_phones=False)))) == ["i0"]


def test_a_copy_by_another_phone_near_the_owners_scan_is_flagged() -> None:
    # 4 hours after the owner's scan at home, a phone living in Hanoi scans the code there: a
    # trip takes 2.9 h, but that phone's clock may be hours off (too few records to tell)
    c = owned_in_saigon()
    c.ev("copy", 61 + 4, K.SCAN, ["i0"], by="app:copy", at=HN)
    alerts = check_exact(c.data())
    travel = act(alerts, "impossible_travel")
    assert codes(travel) == ["i0"] and "phone living far away" in travel[0].reason
    assert set(travel[0].evidence) == {"scan-home-i0", "copy"}
    assert act(check_exact(c.data(), DetectConfig(use_phones=False))) == []
    # the owner's own phone in Hanoi at that time: a same-device trip, not a copy
    c2 = owned_in_saigon()
    c2.ev("trip", 61 + 4, K.SCAN, ["i0"], by="app:owner", at=HN)
    assert act(check_exact(c2.data())) == []


def test_a_copy_scanned_before_the_owner_scans_at_home_is_flagged() -> None:
    c = owned_in_saigon()
    c.ev("copy", 200, K.SCAN, ["i0"], by="app:copy", at=HN)
    c.ev("owner-later", 300, K.SCAN, ["i0"], by="app:owner", at=None)  # no location
    alerts = check_exact(c.data())
    over = act(alerts, "over_scanned")
    assert codes(over) == ["i0"] and "phone living far away" in over[0].reason
    assert {"copy", "owner-later"} <= set(over[0].evidence)
    assert act(check_exact(c.data(), DetectConfig(use_phones=False))) == []


def test_a_handover_to_another_city_is_not_flagged() -> None:
    c = owned_in_saigon()
    c.ev("owner-2", 100, K.SCAN, ["i0"], by="app:owner", at=HOME)
    for j, h in enumerate((400, 450, 600)):  # given to a friend in Hanoi
        c.ev(f"friend-{j}", h, K.SCAN, ["i0"], by="app:friend", at=(21.02, 105.84))
    assert act(check_exact(c.data())) == []


def test_two_populations_of_owners_without_a_sure_home() -> None:
    # the records stop at the maker (shipments, receipts and the sale lost): no sure home.
    # Phones living in Saigon and in Hanoi scan it, each at home, in turn: copies. The same
    # phones one after the other (a handover) are not.
    c = Chain()
    c.ev("com-i0", 0, K.COMMISSION, ["i0"], by="MFR", at=HN)
    owner_lives_in_saigon(c)
    c.ev("hn-home", 10, K.SCAN, ["i1"], by="app:hanoi", at=(21.02, 105.84))
    for name, h, by, at in (("sg-1", 100, "app:owner", HOME), ("hn-1", 300, "app:hanoi", HN),
                            ("sg-2", 500, "app:owner", HOME)):
        c.ev(name, h, K.SCAN, ["i0"], by=by, at=at)
    over = act(check_exact(c.data()), "over_scanned")
    assert codes(over) == ["i0"] and "two regions far apart" in over[0].reason
    assert set(over[0].evidence) >= {"sg-1", "hn-1", "sg-2"}
    c.events = [e for e in c.events if e["name"] != "sg-2"]
    c.ev("hn-2", 600, K.SCAN, ["i0"], by="app:hanoi", at=HN)
    assert act(check_exact(c.data())) == []


def owner_and_copy_past_the_maker(c: Chain) -> None:
    """The records of i0 stop at the maker; its owner's phone (living in Saigon) scans it with
    no location, a phone living in Da Nang 45 minutes later, the owner at home days later."""
    c.ev("com-i0", 0, K.COMMISSION, ["i0"], by="MFR", at=HN)
    owner_lives_in_saigon(c)
    c.ev("dn-home", 10, K.SCAN, ["i1"], by="app:danang", at=DN)
    c.ev("owner-1", 100, K.SCAN, ["i0"], by="app:owner", at=None)
    c.ev("copy", 100.75, K.SCAN, ["i0"], by="app:danang", at=DN)
    c.ev("owner-2", 500, K.SCAN, ["i0"], by="app:owner", at=HOME)


def test_a_copy_past_a_chain_gap_near_the_owners_scan() -> None:
    # one located consumer scan in each city: the home is where the phone that scanned the
    # item most often scanned it (the owner's), so the copy is near the owner's first scan
    c = Chain()
    owner_and_copy_past_the_maker(c)
    travel = act(check_exact(c.data()), "impossible_travel")
    assert codes(travel) == ["i0"] and "phone living far away" in travel[0].reason
    assert set(travel[0].evidence) == {"owner-1", "copy"}
    assert act(check_exact(c.data(), DetectConfig(use_phones=False))) == []
    # the same phones one after the other, a trip apart: a handover, not a copy
    h = Chain()
    owner_and_copy_past_the_maker(h)
    h.events = [e for e in h.events if e["name"] not in ("copy", "owner-2")]
    h.ev("owner-2", 150, K.SCAN, ["i0"], by="app:owner", at=HOME)
    h.ev("friend-1", 300, K.SCAN, ["i0"], by="app:danang", at=DN)
    h.ev("friend-2", 320, K.SCAN, ["i0"], by="app:danang", at=DN)
    assert act(check_exact(h.data())) == []


def packed_at_the_maker(c: Chain, pallet: bool = False) -> None:
    """i0 and i1 commissioned and packed into c0 by the maker in Hanoi (c0 onto c1, a
    pallet)."""
    for it in ("i0", "i1", "c0") + (("c1",) if pallet else ()):
        c.ev(f"com-{it}", 0, K.COMMISSION, [it], by="MFR", at=HN)
    c.ev("pack-c0", 1, K.AGGREGATE, ["i0", "i1"], by="MFR", parent="c0", at=HN)
    if pallet:
        c.ev("pack-c1", 2, K.AGGREGATE, ["c0"], by="MFR", parent="c1", at=HN)


@pytest.mark.parametrize("unpack", ["the items", "the case (every item)", "the pallet"])
def test_a_shop_that_unpacked_it_is_its_home(unpack: str) -> None:
    # shipments and receipts lost: custody stops at the maker in Hanoi, but the Saigon shop
    # unpacked its case (naming the items, or not: every item), or the pallet the case was
    # on. A phone living in Da Nang scans it there before the owner's phone (living in
    # Saigon) scans it at home: the owner had it, the far phone scanned a copy
    c = Chain()
    packed_at_the_maker(c, pallet=unpack == "the pallet")
    if unpack == "the items":
        c.ev("open", 50, K.DISAGGREGATE, ["i0", "i1"], by="RET-SG", parent="c0")
    elif unpack == "the case (every item)":
        c.ev("open", 50, K.DISAGGREGATE, [], by="RET-SG", parent="c0")
    else:
        c.ev("open", 50, K.DISAGGREGATE, [], by="RET-SG", parent="c1")
    owner_lives_in_saigon(c)
    c.ev("dn-home", 10, K.SCAN, ["i2"], by="app:danang", at=DN)
    c.ev("copy", 200, K.SCAN, ["i0"], by="app:danang", at=DN)
    c.ev("owner", 300, K.SCAN, ["i0"], by="app:owner", at=HOME)
    over = act(check_exact(c.data()), "over_scanned")
    assert codes(over) == ["i0"] and "phone living far away" in over[0].reason
    assert {"copy", "owner"} <= set(over[0].evidence)
    # without the shop's record the home is where consumers scan it, no sure home: the far
    # phone before the owner's could be the owner before a handover
    c.events = [e for e in c.events if e["name"] != "open"]
    assert act(check_exact(c.data())) == []


def test_a_sale_by_another_shop_than_the_one_that_unpacked_it() -> None:
    # custody stops at the maker (shipments and receipts lost), the Saigon shop unpacked the
    # case: a sale in Da Nang is a shop selling what another shop had (a copy); the Saigon
    # shop's own sale is a gap in the records only (weak)
    c = Chain()
    packed_at_the_maker(c)
    c.ev("open-c0", 50, K.DISAGGREGATE, [], by="RET-SG", parent="c0")
    c.ev("sell", 80, K.SELL, ["i0"], by="RET-DN", at=DN)
    sale = act(check_exact(c.data()), "unauthorized_seller")
    assert codes(sale) == ["i0"] and sale[0].score == pytest.approx(0.6)
    assert "another shop had unpacked it" in sale[0].reason and "sell" in sale[0].evidence
    c.events = [e for e in c.events if e["name"] != "sell"]
    c.ev("sell", 80, K.SELL, ["i0"], by="RET-SG", at=SG)
    assert act(check_exact(c.data())) == []


def test_pins_that_do_not_match_from_two_phones() -> None:
    # two phones in Hanoi claim a sold item with PINs that do not match and never succeed:
    # the buyer of the genuine item has its PIN, each of these holds a copy
    wrong, ok = CLAIM_DETAILS["wrong_pin"], CLAIM_DETAILS["ok"]
    c = owned_in_saigon()
    c.ev("fake-1", 300, K.CLAIM, ["i0"], by="app:hn1", at=HN, detail=wrong)
    assert act(check_exact(c.data())) == []  # one: a typo never retried, perhaps
    c.ev("fake-2", 500, K.CLAIM, ["i0"], by="app:hn2", at=None, detail=wrong)
    over = act(check_exact(c.data()), "over_scanned")
    assert codes(over) == ["i0"] and "PINs that do not match" in over[0].reason
    assert {"fake-1", "fake-2"} <= set(over[0].evidence)
    # a household's typos, each retried until the PIN was accepted: no copy
    h = owned_in_saigon()
    for who, at in (("app:owner", 62), ("app:family", 80)):
        h.ev(f"typo-{who}", at, K.CLAIM, ["i0"], by=who, at=HOME, detail=wrong)
        h.ev(f"ok-{who}", at + 0.1, K.CLAIM, ["i0"], by=who, at=HOME, detail=ok)
    assert [a for a in act(check_exact(h.data())) if a.kind == "over_scanned"] == []


def test_more_phones_than_a_household() -> None:
    # shelf stock (never sold) whose code is on fakes bought in Hanoi: five phones, none of
    # them its owner's. Four phones are a household at most; five act, one far from the shop
    c = Chain()
    c.supply()
    for j in range(5):
        c.ev(f"fake-{j}", 100 + 50 * j, K.SCAN, ["i0"], by=f"app:hn{j}", at=HN)
    over = act(check_exact(c.data(), DetectConfig(far_scanners=10)), "over_scanned")
    assert codes(over) == ["i0"] and "more consumers' phones" in over[0].reason
    assert set(over[0].evidence) == {f"fake-{j}" for j in range(5)}
    assert act(check_exact(c.data(), DetectConfig(far_scanners=10, phone_scanners=6))) == []
    # five phones at home (a family and friends around the shop): no alert to act on
    h = Chain()
    h.supply()
    sold_and_scanned(h, "i0")
    for j in range(4):
        h.ev(f"home-{j}", 100 + j, K.SCAN, ["i0"], by=f"app:sg{j}", at=HOME)
    assert act(check_exact(h.data())) == []


def test_a_sale_outside_the_chain_after_a_far_phone_scanned_it() -> None:
    # the recorded custody stops at the maker (receipts and sales lost): a shop's sale is a
    # gap, weak alone; but a phone living in Saigon scanned the item two weeks before a shop
    # in Da Nang sold it: the item had an owner already, the shop sold a copy
    c = Chain()
    c.ev("com-i0", 0, K.COMMISSION, ["i0"], by="MFR", at=HN)
    c.ev("sell-dn", 500, K.SELL, ["i0"], by="RET-DN", at=DN)
    plain = act(check_exact(c.data()), "unauthorized_seller")
    assert plain == []
    c.ev("owner", 160, K.SCAN, ["i0"], by="app:owner", at=HOME)
    owner_lives_in_saigon(c)
    alerts = act(check_exact(c.data()), "unauthorized_seller")
    assert codes(alerts) == ["i0"] and "phone living far" in alerts[0].reason
    assert set(alerts[0].evidence) == {"sell-dn", "owner"}


def test_update_equals_run_when_a_phone_moves_home() -> None:
    # a phone seen once, in Hanoi, scanned i0 before its owner did at home: a copy. Its later
    # scans at home (other codes) show it lives in Saigon: its Hanoi scan was a trip, and the
    # incremental run must look at i0 again although no new event names it
    c = owned_in_saigon()
    c.ev("visitor", 200, K.SCAN, ["i0"], by="app:visitor", at=HN)
    c.ev("owner-later", 300, K.SCAN, ["i0"], by="app:owner", at=HOME)
    det = Detector()
    det.run(c.data())
    assert codes(act(det.alerts)) == ["i0"]
    for j, it in enumerate(("i1", "i2", "i3")):
        c.ev(f"visitor-home-{j}", 400 + j, K.SCAN, [it], by="app:visitor", at=HOME)
    newer = c.data()
    det.update(newer)
    assert det.stats["mode"] == "incremental"
    assert det.alerts == detect(newer)
    assert act(det.alerts) == []


# ---------------------------------------------------------------------------------------
# the simulator
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def field():
    return field_simulation(research_chain(20_000, 5), seed=5)


def test_owners_keep_their_phone(field) -> None:
    d = field.data
    owner = d.truth.item_owner
    sold = d.truth.item_sold
    assert (owner[sold] >= 0).all() and (owner[~sold] == -1).all()
    assert set(d.party_role[np.unique(owner[sold])].tolist()) == {"app"}
    # most genuine consumer scans of sold items come from their owner's phone
    rows = np.flatnonzero((d.ev_kind[d.inc_event] == K.SCAN) & (d.inc_node < d.n_items))
    n, e = d.inc_node[rows], d.inc_event[rows]
    genuine = ~np.isin(n, d.attacks.nodes) & ~np.isin(n, field.handovers)
    assert np.mean(d.ev_by[e[genuine]] == owner[n[genuine]]) > 0.85
    # phones live where their owners' shops are
    assert (d.truth.phone_region[np.unique(owner[sold])] >= 0).all()


def test_handovers_are_honest_noise(field) -> None:
    d = field.data
    ho = field.handovers
    assert len(ho) > 50 and not np.isin(ho, d.attacks.nodes).any()
    assert np.array_equal(np.sort(d.noise["handover"]), np.sort(ho))
    tab = score_table(code_scores(detect(d), d), d, 0.5, field.travellers, ho)
    assert tab["handovers"] == len(ho) and tab["handovers_flagged"] <= 0.01
    assert tab["travellers_flagged"] <= 0.01 and tab["precision"] >= 0.99
    quiet = field_simulation(research_chain(20_000, 5), seed=5,
                             noise=FieldNoise(handover=0.0, borrowed_phone=0.0))
    assert len(quiet.handovers) == 0 and "handover" not in quiet.data.noise


def test_attacks_know_the_owners_phone() -> None:
    seen: dict[str, int] = {}

    def owner_scans_far(ctx: AttackContext, rate: float) -> None:
        """The owner's own phone far away (a traveller, as an 'attack' for the test)."""
        items = ctx.pick(ctx.item_sold & (ctx.scan_count() > 0), int(rate * ctx.n_items))
        lat, lon = ctx.region_centre(ctx.city(ctx.home_lat[items], ctx.home_lon[items], 500))
        t = ctx.sim.ev_time.max() + np.arange(len(items)) * 1_000_000
        phones = np.array([ctx.owner_phone(int(i)) for i in items], dtype=np.int32)
        seen["same"] = int(np.count_nonzero(phones == ctx.item_owner[items]))
        seen["n"] = len(items)
        ctx.add_scans(items, t, phones, lat, lon)
        ctx.mark(items, "owner_scans_far", t)

    register_attack("owner_scans_far", owner_scans_far)
    try:
        fs = field_simulation(research_chain(10_000, 3), copies={"owner_scans_far": 0.005},
                              seed=3)
    finally:
        unregister_attack("owner_scans_far")
    assert seen["n"] > 10 and seen["same"] == seen["n"]
    tab = score_table(code_scores(detect(fs.data), fs.data), fs.data)
    # the owner's own phone far away is what a traveller leaves: not caught
    assert tab["per_attack"]["owner_scans_far"]["recall"] <= 0.1


# ---------------------------------------------------------------------------------------
# the oracle
# ---------------------------------------------------------------------------------------
def test_oracle_bounds_recall(field) -> None:
    d = field.data
    b = recall_bounds(field)
    amb = ambiguous_codes(field)
    hidden = hidden_diversion(field)
    assert len(amb) > 0 and b["ambiguous"] == len(np.union1d(amb, hidden)) < b["observable"]
    assert 0.5 < b["recall_bound"] < 1.0
    # only copies (and diverted goods seen only near their recorded holders) are ever out of
    # reach; each ambiguous code is an observable copy
    t = d.attacks
    kinds = set(t.attack[np.isin(t.nodes, amb)].tolist())
    assert kinds <= {"clone", "fast_copy", "slow_copy", "crowd_copy"}
    assert t.observable[np.isin(t.nodes, amb)].all()
    for name, r in b["per_attack"].items():
        assert 0.0 <= r["recall_bound"] <= 1.0
        if name not in ("clone", "fast_copy", "slow_copy", "crowd_copy", "diversion"):
            assert r["ambiguous"] == 0
    # the detector does not beat the bound, and almost never flags an ambiguous code
    tab = score_table(code_scores(detect(d), d), d, 0.5)
    assert tab["recall"] <= b["recall_bound"] + 1e-9
    flagged = code_scores(detect(d), d).score[amb] >= 0.5
    assert flagged.mean() <= 0.1
    assert recall_bounds(d)["recall_bound"] == b["recall_bound"]  # the data alone will do


def test_honest_lookalikes_outnumber_the_ambiguous_copies(field) -> None:
    # the genuine codes that leave the handover pattern: items handed over to another city
    # (the simulation's truth), many more than the copies that look the same, so a rule
    # flagging the pattern would flag mostly honest owners
    look = honest_lookalikes(field)
    t = field.data.attacks
    assert len(look) and not np.isin(look, t.nodes).any()
    assert np.isin(look, field.handovers).mean() >= 0.95
    assert len(look) > 5 * len(ambiguous_codes(field, ("fast_copy",)))
    flagged = code_scores(detect(field.data), field.data).score[look] >= 0.5
    assert flagged.mean() <= 0.02
    # fewer missed reads leave fewer copies ambiguous, the honest handovers just as many
    clean = field_simulation(research_chain(20_000, 5), seed=5,
                             noise=FieldNoise(missed_read=0.0))
    assert len(ambiguous_codes(clean, ("fast_copy",))) < len(ambiguous_codes(field,
                                                                             ("fast_copy",)))


def test_oracle_on_hand_made_truth() -> None:
    # two fast copies on one simulation: one whose owner scan was recorded (reachable), one
    # whose owner scan was lost (one far phone and nothing at home after: ambiguous)
    fs = field_simulation(research_chain(5_000, 9), copies={"fast_copy": 0.002},
                          noise=FieldNoise.clean(), seed=9)
    d = fs.data
    fast = d.attacks.nodes[d.attacks.attack == "fast_copy"]
    assert len(fast) >= 5
    assert len(ambiguous_codes(fs, attacks=("fast_copy",))) == 0  # every owner scan recorded
    lossy = field_simulation(research_chain(5_000, 9), copies={"fast_copy": 0.002},
                             noise=FieldNoise(missed_read=0.9, missed_chain=0.0,
                                              no_location=0.0, gps_km=0.0, skewed_phones=0.0,
                                              traveller=0.0, handover=0.0,
                                              borrowed_phone=0.0), seed=9)
    amb = ambiguous_codes(lossy, attacks=("fast_copy",))
    assert len(amb) > 0
    data = TraceData.from_simulation(lossy.data)
    scores = code_scores(detect(data), lossy.data).score
    assert (scores[amb] < 0.5).all()


def test_phone_regions_dense_and_sorted_counts_agree_with_a_reference() -> None:
    # a 2 x 2 grid of regions 0..3 over [0, 2) degrees; the kernel counts in a dense party x
    # region table up to 2**25 cells and by sorting beyond: both give the reference answer
    from antifake.detect import _detect

    rng = np.random.default_rng(7)
    ne, n_active = 20_000, 500
    kind = rng.choice([int(K.SCAN), int(K.CLAIM), int(K.SELL)], ne).astype(np.uint8)
    by = rng.integers(-1, n_active, ne).astype(np.int32)
    lat = rng.uniform(-0.5, 2.0, ne)  # some outside the grid
    lon = rng.uniform(0.0, 2.0, ne)
    lat[rng.random(ne) < 0.05] = np.nan  # no location
    grid = np.array([0, 1, 2, 3], dtype=np.int16)
    g = {"grid_nlat": 2, "grid_nlon": 2, "grid_lat0": 0.0, "grid_lon0": 0.0, "grid_inv": 1.0}
    ref_counts = np.zeros((n_active, 4), dtype=np.int64)
    ok = (kind != int(K.SELL)) & (by >= 0) & (lat >= 0) & (lat < 2)
    business = np.zeros(n_active, dtype=np.uint8)
    business[:10] = 2  # shops' scans never make a phone's home
    ok &= business[np.maximum(by, 0)] == 0
    np.add.at(ref_counts, (by[ok], (np.floor(lat[ok]) * 2 + np.floor(lon[ok])).astype(int)), 1)
    ref = np.where(ref_counts.max(axis=1) > 0, ref_counts.argmax(axis=1), -1)
    for n_parties in (n_active, (1 << 23) + 1):  # 4 regions: dense, then sorted
        pb = np.zeros(n_parties, dtype=np.uint8)
        pb[:n_active] = business
        out = _detect.phone_regions(kind, by, lat, lon, pb, grid, g)
        assert out.shape == (n_parties,)
        assert np.array_equal(out[:n_active], ref)
        assert (out[n_active:] == -1).all()
