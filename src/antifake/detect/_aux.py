"""Why a rule fired: the bits of an alert record's ``aux`` and what each says, per alert kind.

The one statement of them: the kernels read the same table as Cython constants
(``_aux.pxi``, written by ``setup.py`` from this file, which therefore imports nothing), and
[`antifake.detect.Alert`][antifake.detect.Alert]'s ``reason`` is composed from the texts.
Two fields are not bits: a diversion record's ``aux >> 8`` counts the scanners outside the
delivered regions, an inactive-stamp record's ``aux & 63`` is the decommissioning reason code.
"""

from __future__ import annotations

__all__ = ["AUX_BITS"]

#: (kernel constant, alert kind, bit, what it says), in the order reasons list them.
AUX_BITS: tuple[tuple[str, str, int, str], ...] = (
    # impossible_travel: the strongest bit set names the pair (none: two places, two devices)
    ("X_SAME_SCANNER", "impossible_travel", 1, "one device jumping impossibly far (weak)"),
    ("X_UNLOCATED", "impossible_travel", 2,
     "scanned far from its home by one device and, too soon after or before for a trip, by "
     "another device that gave no location"),
    ("X_PHONES", "impossible_travel", 4,
     "scanned far from its home by a phone living far away, too soon after or before a scan "
     "by a phone living at its home for the trip (a copy)"),
    # over_scanned: every bit set is listed
    ("X_FAR_SCANNERS", "over_scanned", 1, "distinct scanners far from its home"),
    ("X_MANY_SCANNERS", "over_scanned", 2, "more distinct scanners than one item has"),
    ("X_FAR_VISITS", "over_scanned", 4,
     "seen far from its home, back, and far again (two populations)"),
    ("X_PHONE_BETWEEN", "over_scanned", 8,
     "scanned by a phone living far away before or between scans by phones living at its "
     "home (the owner kept it)"),
    ("X_TRAVELLER", "over_scanned", 16,
     "scanned far from its home by a phone living at its home (a traveller: weak)"),
    ("X_TWO_HOMES", "over_scanned", 32,
     "scanned at home by phones living in two regions far apart, in turn (two populations "
     "of owners)"),
    ("X_MANY_PHONES", "over_scanned", 64,
     "scanned by more consumers' phones than a household has, one of them far from where "
     "it was sold"),
    ("X_WRONG_PINS", "over_scanned", 128,
     "claimed with PINs that do not match by two or more phones, none of which then claimed "
     "it (each holds a copy)"),
    # diversion ({n}: the scanners outside the delivered regions)
    ("X_OUT_SCAN", "diversion", 1, "scanned outside its delivered regions by {n} scanner(s)"),
    ("X_OUT_SALE", "diversion", 2, "sold outside its delivered regions"),
    # unauthorized_seller: what the party did (joined by " / "), then the qualifiers
    ("X_U_SELL", "unauthorized_seller", 1, "sold"),
    ("X_U_LIST", "unauthorized_seller", 2, "listed"),
    ("X_U_CLAIM", "unauthorized_seller", 4, "claimed by a business"),
    ("X_U_FORMER", "unauthorized_seller", 8, "listed by a former holder (weak)"),
    ("X_U_GAP", "unauthorized_seller", 16,
     "sold or listed by a shop the recorded chain does not reach (a gap in the records: "
     "weak alone)"),
    ("X_U_PHONE", "unauthorized_seller", 32,
     ", after a phone living far from that shop had scanned it (its owner elsewhere: the "
     "shop sold a copy)"),
    ("X_U_REACH", "unauthorized_seller", 64,
     ", far from every region its recorded chain took it to (no plausible next step of "
     "that chain)"),
    ("X_U_UNPACKED", "unauthorized_seller", 128,
     ", although another shop had unpacked it (the item was there)"),
    # out_of_order: every bit set is listed
    ("X_O_BEFORE_COMMISSION", "out_of_order", 1, "events before its commissioning"),
    ("X_O_UNKNOWN_ITEM", "out_of_order", 2, "never commissioned, packed into a known container"),
    ("X_O_AFTER_SALE", "out_of_order", 4, "back in the supply chain after a sale"),
    ("X_O_RECEIVE_BEFORE_SHIP", "out_of_order", 8, "received before it was shipped"),
    ("X_O_OUTSIDER", "out_of_order", 16, "packed or unpacked by a party outside its chain"),
    # inactive_stamp_activity (low six bits: the decommissioning reason code)
    ("X_I_CLAIMED", "inactive_stamp_activity", 64, "activity after the stamp was claimed"),
)
