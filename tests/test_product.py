"""Product checks its attributes when it is made and returns typed values; every date the
library hands back is a `datetime.date`, and JSON carries ISO 8601."""

from __future__ import annotations

import json
from datetime import date

import pytest

import antifake as af
from antifake import codes as C


def test_product_typed_values() -> None:
    p = af.Product(gtin="9521234543213", lot="L23", expiry="2027-12-31")
    assert p.gtin == "09521234543213"  # GTIN-14
    assert p.expiry == date(2027, 12, 31) and isinstance(p.expiry, date)
    assert p.to_gs1() == C.GS1Attributes("09521234543213", "L23", "271231")
    assert af.Product(gtin="09521234543213", expiry=date(2027, 12, 31)) == af.Product(
        gtin="09521234543213", expiry="271231")
    month = af.Product(gtin="09521234543213", expiry="2027-02")
    assert month.expiry == date(2027, 2, 28) and month.to_gs1().expiry_ai17 == "270200"


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"gtin": "09521234543214"}, ["gtin='09521234543214'", "check digit", "expected 3"]),
    ({"gtin": "12345"}, ["8, 12, 13 or 14 digits"]),
    ({"gtin": 9521234543213}, ["must be a str"]),
    ({"gtin": "09521234543213", "lot": "L 23"}, ["lot='L 23'", "character set 82"]),
    ({"gtin": "09521234543213", "lot": "x" * 21}, ["lot=", "20"]),
    ({"gtin": "09521234543213", "expiry": "2027-02-30"}, ["expiry='2027-02-30'", "not a valid"]),
    ({"gtin": "09521234543213", "expiry": "271331"}, ["month 13"]),
    ({"gtin": "09521234543213", "expiry": "2199-01-01"}, ["two-digit", "2199"]),
    ({"gtin": "09521234543213", "expiry": 20271231}, ["expiry=20271231"]),
])
def test_product_refuses_at_construction(kwargs: dict, words: list[str]) -> None:
    with pytest.raises(af.GS1Error) as exc:
        af.Product(**kwargs)
    for w in words:
        assert w in str(exc.value)


def test_verify_returns_dates(tmp_path) -> None:
    key = af.IssuerKey.generate(issuer="T")
    ring = af.Keyring([key.public])
    batch = af.issue(key, 3, product=af.Product(gtin="09521234543213", lot="L23",
                                                 expiry="2027-12"))
    url = batch[1].url("https://v.example")
    assert "17=271200" in url  # the GS1 form stays in the URL
    v = af.verify(url, ring)
    assert v.ok
    assert v.stamp.product.expiry == date(2027, 12, 31)
    assert v.stamp.product.expiry_ai17 == "271200"
    assert v.stamp.product.to_json() == {"gtin": "09521234543213", "lot": "L23",
                                         "expiry": "2027-12-31"}
    assert "datetime.date(2027, 12, 31)" in repr(v.stamp.product)
    assert json.dumps(v.stamp.product.to_json())
    batch.save(tmp_path / "b.npz")
    again = af.Batch.load(tmp_path / "b.npz")
    assert again.product.expiry == date(2027, 12, 31)
    assert again.urls("https://v.example")[1] == url


def test_digital_link_expiry_date() -> None:
    from antifake.gs1 import parse_digital_link

    dl = parse_digital_link("https://id.gs1.org/01/09521234543213/10/L1?17=270200")
    assert dl.expiry == "270200" and dl.expiry_date == date(2027, 2, 28)
    assert parse_digital_link("https://id.gs1.org/01/09521234543213").expiry_date is None
