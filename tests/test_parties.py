# ruff: noqa: F811  (the registry suite's fixtures are imported by name)
"""Parties with GS1 identifiers (a PGLN, SGLN locations) and custody that follows the CBV 2.0
source/destination types; on both registry backends, on GS1's examples and on a document of
our own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import antifake as af
from antifake.epcis.events import Event, event_kind
from antifake.epcis.jsonld import parse_document
from antifake.epcis.parties import PartyAliases, custody_parties, list_parties
from antifake.errors import RegistryError
from antifake.registry import Registry
from test_registry import (  # noqa: F401  (fixtures)
    BASE,
    CONFORMANCE,
    T0,
    backend,
    batch,
    db,
    new_db,
    ring,
)

PGLN_MFR = "urn:epc:id:pgln:0614141.00001"
SGLN_MFR = "urn:epc:id:sgln:0614141.00002.0"
PGLN_DIST = "urn:epc:id:pgln:4012345.00001"
SGLN_DIST = "urn:epc:id:sgln:4012345.00225.0"
SGLN_DIST_DOCK = "urn:epc:id:sgln:4012345.00225.7"
CTX = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"


def _doc(epcs: list[str], receive_lists: bool = True) -> dict:
    """Ship from the manufacturer's PGLN to the distributor's, read at SGLNs (as another
    system would write it), then receipt at the distributor's dock."""
    receive = {
        "type": "ObjectEvent", "action": "OBSERVE", "bizStep": "receiving",
        "disposition": "in_progress", "epcList": epcs[:2],
        "eventTime": "2027-03-03T09:00:00Z", "eventTimeZoneOffset": "+00:00",
        "readPoint": {"id": SGLN_DIST_DOCK},
    }
    if receive_lists:
        receive["destinationList"] = [
            {"type": "owning_party", "destination": PGLN_DIST},
            {"type": "possessing_party", "destination": PGLN_DIST},
            {"type": "location", "destination": SGLN_DIST}]
    return {
        "@context": [CTX], "type": "EPCISDocument", "schemaVersion": "2.0",
        "creationDate": "2027-03-04T00:00:00Z",
        "epcisBody": {"eventList": [
            {"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "shipping",
             "disposition": "in_transit", "epcList": epcs,
             "eventTime": "2027-03-02T09:00:00Z", "eventTimeZoneOffset": "+00:00",
             "readPoint": {"id": SGLN_MFR},
             "sourceList": [{"type": "owning_party", "source": PGLN_MFR},
                            {"type": "location", "source": SGLN_MFR}],
             "destinationList": [{"type": "owning_party", "destination": PGLN_DIST},
                                 {"type": "location", "destination": SGLN_DIST}]},
            receive,
        ]}}


def test_custody_follows_cbv_types() -> None:
    events = parse_document(_doc(["urn:epc:id:sgtin:0614141.107346.1"])).events
    ship, receive = events
    assert list_parties(ship, "source") == [("owning_party", PGLN_MFR), ("location", SGLN_MFR)]
    assert custody_parties(ship, event_kind(ship)) == (SGLN_MFR, PGLN_MFR, PGLN_DIST)
    # receipt: the possessing party of the destination, not the read point
    assert custody_parties(receive, event_kind(receive))[0] == PGLN_DIST
    bare = parse_document(_doc(["urn:epc:id:sgtin:0614141.107346.1"], False)).events[1]
    assert custody_parties(bare, event_kind(bare))[0] == SGLN_DIST_DOCK  # nothing better
    made = Event.ship(["urn:epc:id:sgtin:0614141.107346.1"], source="A", destination="B",
                      at=T0)
    assert custody_parties(made, event_kind(made)) == ("A", "A", "B")


@pytest.mark.skipif(CONFORMANCE is None, reason="shared conformance data not present")
def test_gs1_example_possessing_party_and_locations(backend: str, db: Path | str) -> None:
    assert CONFORMANCE is not None
    ex = CONFORMANCE / "epcis-examples"
    (ev,) = parse_document(ex / "Example_9.6.2-ObjectEvent.jsonld").events
    # possessing party before the location; an owning party before the location
    assert custody_parties(ev, event_kind(ev))[1:] == ("urn:epc:id:sgln:4012345.00001.0",
                                                       "urn:epc:id:sgln:0614141.00001.0")
    with Registry(db) as reg:
        reg.add_party("ACME", gln="urn:epc:id:pgln:0614141.07346",
                      locations=["urn:epc:id:sgln:0614141.07346.1234"])
        reg.add_party("SHOP", locations=["https://id.gs1.org/414/0012345111112/254/400"])
        reg.import_epcis(ex / "Example_9.6.1-ObjectEvent.jsonld")
        g = reg.graph()
        item = "urn:epc:id:sgtin:0614141.107346.2018"
        # shipped by ACME's read point, received at the shop's: party ids, not SGLNs
        assert g.custody_chain(item) == ["ACME", "SHOP"]
        assert g.custody_chain("urn:epc:id:sgtin:0614141.107346.2017") == ["ACME"]
        assert reg.party("urn:epc:id:sgln:0012345.11111.400") == "SHOP"


def _registered(reg: Registry, batch: af.Batch) -> list[str]:
    reg.add_party("MFR-01", role="manufacturer", gln=PGLN_MFR, locations=[SGLN_MFR])
    reg.register(batch, owner="MFR-01", at=T0)
    return [batch[i].epc for i in range(3)]


def test_listing_by_the_pgln_that_received(backend: str, db: Path | str,
                                           batch: af.Batch, ring: af.Keyring) -> None:
    with Registry(db, keyring=ring) as reg:
        epcs = _registered(reg, batch)
        reg.import_epcis(json.dumps(_doc(epcs)))
        g = reg.graph()
        assert g.custody_chain(epcs[0]) == ["MFR-01", PGLN_DIST]
        assert g.custodian(epcs[2]) == "MFR-01"  # shipped, not received: still the source
        assert reg.check_listing(epcs[0], seller=PGLN_DIST).ok
        assert not reg.check_listing(epcs[0], seller="MFR-01").ok
        assert not reg.check_listing(epcs[2], seller=PGLN_DIST).ok
        # master data later: the distributor's identifiers fold into its party id
        reg.add_party("DIST-07", role="distributor", gln="4012345000016",
                      locations=[SGLN_DIST, SGLN_DIST_DOCK])
        g = reg.graph()
        assert g.custody_chain(epcs[0]) == ["MFR-01", "DIST-07"]
        for seller in ("DIST-07", PGLN_DIST, "https://id.gs1.org/417/4012345000016",
                       SGLN_DIST_DOCK):
            assert reg.check_listing(epcs[0], seller=seller).ok, seller
    with Registry(db, keyring=ring) as again:  # stored: a new process sees the same
        assert again.graph().custody_chain(epcs[1]) == ["MFR-01", "DIST-07"]


def test_receipt_read_at_a_location_only(backend: str, db: Path | str,
                                         batch: af.Batch, ring: af.Keyring) -> None:
    with Registry(db, keyring=ring) as reg:
        epcs = _registered(reg, batch)
        reg.add_party("DIST-07", gln=PGLN_DIST, locations=[SGLN_DIST_DOCK])
        reg.import_epcis(json.dumps(_doc(epcs, receive_lists=False)))
        assert reg.graph().custody_chain(epcs[1]) == ["MFR-01", "DIST-07"]
        assert reg.check_listing(epcs[1], seller="DIST-07").ok


def test_party_identifiers_are_checked(backend: str, db: Path | str) -> None:
    with Registry(db) as reg:
        reg.add_party("A", gln=PGLN_MFR)
        with pytest.raises(RegistryError, match="belongs to party 'A'"):
            reg.add_party("B", gln="https://id.gs1.org/417/0614141000012")
        with pytest.raises(RegistryError, match="check digit"):
            reg.add_party("B", gln="0614141000013")
        with pytest.raises(RegistryError, match="not a party GLN"):
            reg.add_party("B", gln=SGLN_MFR)
        with pytest.raises(RegistryError, match="not an SGLN"):
            reg.add_party("B", locations=[PGLN_MFR])
        with pytest.raises(RegistryError, match="not an SGLN"):
            reg.add_party("B", locations=["DOCK-1"])
        assert reg.stats()["parties"] == 1  # the refusals stored nothing
        reg.add_party("A", gln=PGLN_MFR, locations=SGLN_MFR)  # again: a no-op
        assert reg.party(SGLN_MFR) == "A" and reg.party("elsewhere") == "elsewhere"


def test_aliases_fold_party_rows() -> None:
    import numpy as np

    names = ["X", PGLN_MFR, SGLN_MFR, "Y"]
    new, remap, rows = PartyAliases({"417:0614141000012": "X",
                                     "414:0614141000029": "Y"}).fold(names)
    assert new == ["X", "Y"] and rows == [0, 3]  # each party keeps its own row's metadata
    assert remap[np.array([1, 2, -1, 3])].tolist() == [0, 1, -1, 1]
    assert PartyAliases({}).fold(names) is None


def test_another_connection_sees_a_party_change(backend: str, db: Path | str) -> None:
    """A party's new place or role reaches every connection's snapshot, not only the one
    that changed it (another worker process, say), with no event in between."""
    with Registry(db) as writer, Registry(db) as reader:
        writer.add_party("SHOP-1", role="retailer", region="Hanoi", lat=21.03, lon=105.85)
        before = reader.columns()
        assert list(before.party_region) == ["Hanoi"]
        assert reader.columns() is before  # nothing changed: the snapshot is shared
        writer.add_party("SHOP-1", region="Ho Chi Minh City", lat=10.78, lon=106.70)
        after = reader.columns()
        assert list(after.party_region) == ["Ho Chi Minh City"]
        assert after.party_lat.tolist() == [10.78]
        writer.add_party("SHOP-1", gln=PGLN_MFR)
        assert reader.party(PGLN_MFR) == "SHOP-1"
