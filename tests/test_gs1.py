"""Tests for antifake.gs1: GTINs, AI 17 dates, Digital Link, EPC URIs, element strings."""

from __future__ import annotations

import contextlib
import json
import re
from datetime import date, datetime

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from antifake import gs1
from antifake.errors import AntifakeError, GS1Error
from antifake.gs1 import (
    MAX_URI_LENGTH,
    DigitalLink,
    ai17_to_date,
    build_digital_link,
    element_string,
    epc_to_digital_link,
    expiry_to_ai17,
    gtin_check_digit,
    is_epc_uri,
    parse_digital_link,
    parse_element_string,
    parse_sgtin_urn,
    sgtin_digital_link,
    sgtin_urn,
    validate_gtin,
    validate_lot,
    validate_serial,
)
from conformance import conformance_dir

CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
TODAY = date(2025, 6, 15)

CONFORMANCE = conformance_dir()

# --------------------------------------------------------------------------- strategies


@st.composite
def gtins(draw: st.DrawFn) -> str:
    """A valid GTIN in any of its lengths (8, 12, 13, 14)."""
    n = draw(st.sampled_from([8, 12, 13, 14]))
    body = draw(st.text(alphabet="0123456789", min_size=n - 1, max_size=n - 1))
    return body + gtin_check_digit(body)


cset82_text = st.text(alphabet=CSET82, min_size=1, max_size=20)
# Inside the two-digit-year window both of TODAY and of the real current date (used by the
# functions when no ``today`` is given), for decades to come.
window_dates = st.dates(
    min_value=date(date.today().year - 40, 1, 1), max_value=date(date.today().year + 40, 12, 31)
)
free_text = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\x85"
    ),
    max_size=12,
)
free_keys = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_.~", min_size=1, max_size=8
).map(
    lambda s: "x" + s  # never all digits, never a DL short name
)


def _tamper_digit(s: str, i: int, d: str) -> str:
    return s[:i] + d + s[i + 1 :]


# --------------------------------------------------------------------------- GTIN


@pytest.mark.parametrize(
    ("given_", "gtin14"),
    [
        ("09521234543213", "09521234543213"),
        ("9521234543213", "09521234543213"),
        ("4006381333931", "04006381333931"),
        ("614141123452", "00614141123452"),
        ("00614141123452", "00614141123452"),
        ("10614141073464", "10614141073464"),
        ("96385074", "00000096385074"),
    ],
)
def test_known_gtins(given_: str, gtin14: str) -> None:
    assert validate_gtin(given_) == gtin14


@pytest.mark.parametrize(
    ("body", "check"),
    [
        ("952123454321", "3"),
        ("400638133393", "1"),
        ("61414112345", "2"),
        ("9638507", "4"),
        ("1061414107346", "4"),
        ("0061414107346", "7"),
        ("10614141234567890", "8"),
    ],
)
def test_check_digit(body: str, check: str) -> None:
    assert gtin_check_digit(body) == check


@pytest.mark.parametrize("gtin", ["09521234543213", "4006381333931", "614141123452", "96385074"])
def test_every_single_digit_change_is_rejected(gtin: str) -> None:
    for i, orig in enumerate(gtin):
        for d in "0123456789":
            if d == orig:
                continue
            with pytest.raises(GS1Error, match="check digit"):
                validate_gtin(_tamper_digit(gtin, i, d))


def test_wrong_check_digit_names_expected_digit() -> None:
    with pytest.raises(GS1Error, match=r"expected 3, got 4"):
        validate_gtin("09521234543214")


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("", "empty"),
        ("0952123454321A", r"'A' at position 14"),
        ("09521234 543213", r"' ' at position 9"),
        (" 9521234543213", "position 1"),
        (
            "\uff10\uff19\uff15\uff12\uff11\uff12\uff13\uff14\uff15\uff14\uff13\uff12\uff11\uff13",
            "digits 0-9",
        ),
        (
            "\u0660\u0669\u0665\u0662\u0661\u0662\u0663\u0664\u0665\u0664\u0663\u0662\u0661\u0663",
            "digits 0-9",
        ),
        ("95212345432", "8, 12, 13 or 14 digits, got 11"),
        ("095212345432130", "got 15"),
        ("1234567", "got 7"),
    ],
)
def test_gtin_rejections_say_why(bad: str, reason: str) -> None:
    with pytest.raises(GS1Error, match=reason):
        validate_gtin(bad)


def test_gtin_non_str() -> None:
    for bad in (None, 9521234543213, b"09521234543213"):
        with pytest.raises(GS1Error):
            validate_gtin(bad)  # type: ignore[arg-type]
    assert issubclass(GS1Error, AntifakeError) and issubclass(GS1Error, ValueError)


@given(gtins())
def test_gtin_normalises_to_14_and_is_idempotent(g: str) -> None:
    g14 = validate_gtin(g)
    assert len(g14) == 14 and g14.lstrip("0") == g.lstrip("0")
    assert validate_gtin(g14) == g14


# --------------------------------------------------------------------------- lot / serial


def test_all_82_characters_accepted() -> None:
    assert len(set(CSET82)) == 82
    for i in range(0, 82, 20):
        chunk = CSET82[i : i + 20]
        assert validate_lot(chunk) == chunk
        assert validate_serial(chunk) == chunk


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("", "1 to 20 characters, got 0"),
        ("A" * 21, "got 21"),
        ("L 23", "' '"),
        ("Lé", "non-ASCII"),
        ("a~b", "'~'"),
        ("a#b", "'#'"),
        ("a\x00b", "character set 82"),
        ("a\nb", "character set 82"),
    ],
)
def test_lot_and_serial_rejections(bad: str, reason: str) -> None:
    with pytest.raises(GS1Error, match=reason):
        validate_lot(bad)
    with pytest.raises(GS1Error, match=reason):
        validate_serial(bad)


# --------------------------------------------------------------------------- AI 17


@pytest.mark.parametrize(
    ("ai17", "expected"),
    [
        ("271231", date(2027, 12, 31)),
        ("270200", date(2027, 2, 28)),  # DD=00: last day of the month
        ("280200", date(2028, 2, 29)),  # ... of a leap-year February
        ("271200", date(2027, 12, 31)),
        ("240400", date(2024, 4, 30)),
        ("250615", date(2025, 6, 15)),
        ("750101", date(2075, 1, 1)),  # +50 years: still this century
        ("760101", date(1976, 1, 1)),  # +51: previous century
        ("000229", date(2000, 2, 29)),
    ],
)
def test_ai17_to_date(ai17: str, expected: date) -> None:
    assert ai17_to_date(ai17, today=TODAY) == expected


def test_ai17_century_rule_next_century() -> None:
    # In 2080, "30" is 50 years back -> next century (2130); "31" -> 2031.
    assert ai17_to_date("300101", today=date(2080, 1, 1)) == date(2130, 1, 1)
    assert ai17_to_date("310101", today=date(2080, 1, 1)) == date(2031, 1, 1)
    assert ai17_to_date("291231", today=date(2080, 1, 1)) == date(2129, 12, 31)
    # In 2099 "49" is 50 years ahead: 2149. In 2000 "50" is +50 (2050), "51" is 1951.
    assert ai17_to_date("490101", today=date(2099, 6, 1)) == date(2149, 1, 1)
    assert ai17_to_date("500101", today=date(2000, 6, 1)) == date(2050, 1, 1)
    assert ai17_to_date("510101", today=date(2000, 6, 1)) == date(1951, 1, 1)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("271301", "month 13"),
        ("270001", "month 00"),
        ("270230", "has 28 days"),
        ("270431", "has 30 days"),
        ("2712", "6 digits"),
        ("27123a", "6 digits"),
        ("\u0662\u0667\u0661\u0662\u0663\u0661", "6 digits"),
        ("", "6 digits"),
    ],
)
def test_ai17_rejections(bad: str, reason: str) -> None:
    with pytest.raises(GS1Error, match=reason):
        ai17_to_date(bad, today=TODAY)


def test_expiry_to_ai17_forms() -> None:
    assert expiry_to_ai17(date(2027, 12, 31), today=TODAY) == "271231"
    assert expiry_to_ai17(datetime(2027, 12, 31, 23, 59), today=TODAY) == "271231"
    assert expiry_to_ai17("2027-12-31", today=TODAY) == "271231"
    assert expiry_to_ai17("2027-02", today=TODAY) == "270200"
    assert expiry_to_ai17("270200", today=TODAY) == "270200"
    assert expiry_to_ai17(date(2028, 2, 29), today=TODAY) == "280229"


@pytest.mark.parametrize(
    "bad",
    ["2027-02-30", "2027/12/31", "31.12.2027", "2027-13", "271301", "20271231", "", "2027-1-1"],
)
def test_expiry_to_ai17_rejects_malformed(bad: str) -> None:
    with pytest.raises(GS1Error):
        expiry_to_ai17(bad, today=TODAY)


def test_expiry_outside_two_digit_window_is_refused() -> None:
    with pytest.raises(GS1Error, match="1976 to 2075"):
        expiry_to_ai17(date(2090, 1, 1), today=TODAY)
    with pytest.raises(GS1Error, match="two-digit"):
        expiry_to_ai17("1970-05", today=TODAY)
    with pytest.raises(GS1Error):
        expiry_to_ai17(12345)  # type: ignore[arg-type]


@given(window_dates)
def test_expiry_round_trip(d: date) -> None:
    assert ai17_to_date(expiry_to_ai17(d, today=TODAY), today=TODAY) == d


# --------------------------------------------------------------------------- Digital Link: build


def test_build_digital_link_example() -> None:
    uri = build_digital_link(
        "https://id.gs1.org/",
        "9521234543213",
        lot="L/23",
        serial="x'y",
        expiry="2027-12-31",
        extra={"linkType": "gs1:pip", "3103": "000195"},
    )
    assert uri == (
        "https://id.gs1.org/01/09521234543213/10/L%2F23/21/x%27y"
        "?17=271231&linkType=gs1%3Apip&3103=000195"
    )


def test_build_minimal_and_with_prefix() -> None:
    assert (
        build_digital_link("https://id.gs1.org", "96385074")
        == "https://id.gs1.org/01/00000096385074"
    )
    assert (
        build_digital_link("HTTPS://Example.COM/dl/v1/", "09521234543213", serial="1")
        == "https://example.com/dl/v1/01/09521234543213/21/1"
    )


def test_build_percent_encodes_everything_outside_unreserved() -> None:
    uri = build_digital_link(
        "https://e.x", "09521234543213", serial="!\"%&'()*+,-./:;<", lot="=>?_.-"
    )
    path = uri.split("/01/09521234543213", 1)[1]
    assert path == "/10/%3D%3E%3F_.-/21/%21%22%25%26%27%28%29%2A%2B%2C-.%2F%3A%3B%3C"
    dl = parse_digital_link(uri)
    assert dl.serial == "!\"%&'()*+,-./:;<" and dl.lot == "=>?_.-"


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"base": "id.gs1.org"}, "https://"),
        ({"base": "ftp://id.gs1.org"}, "scheme"),
        ({"base": "https://id.gs1.org?x=1"}, "query"),
        ({"base": "https://user@id.gs1.org"}, "@"),
        ({"base": "https://id.gs1.org/a b"}, "percent-encoded"),
        ({"gtin": "09521234543214"}, "expected 3"),
        ({"lot": ""}, "got 0"),
        ({"serial": "é"}, "non-ASCII"),
        ({"expiry": "2027-02-30"}, "not a valid date"),
        ({"extra": {"10": "L1"}}, "AI 10 cannot be passed"),
        ({"extra": {"exp": "270101"}}, "AI 17 cannot be passed"),
        ({"extra": {"11": "271301"}}, "month 13"),
        ({"extra": {"02": "1"}}, "14 digits"),
        ({"extra": {"12345": "x"}}, "numeric"),
        ({"extra": {"a": "b\x00"}}, "control"),
        ({"serial": "9" * 20, "extra": {"x": "y" * 3000}}, "limit"),
    ],
)
def test_build_rejections(kwargs: dict, reason: str) -> None:
    args = {"base": "https://id.gs1.org", "gtin": "09521234543213"} | kwargs
    with pytest.raises(GS1Error, match=reason):
        build_digital_link(**args)


# --------------------------------------------------------------------------- Digital Link: parse

REFERENCE_URI = "https://id.gs1.org/01/09521234543213/10/L%2F1/21/S1?17=270200&foo=bar"


def _reference() -> DigitalLink:
    return parse_digital_link(REFERENCE_URI)


def test_parse_reference_fields() -> None:
    dl = _reference()
    assert dl == DigitalLink(
        base="https://id.gs1.org",
        gtin="09521234543213",
        lot="L/1",
        serial="S1",
        expiry="270200",
        ai={"01": "09521234543213", "10": "L/1", "21": "S1", "17": "270200"},
        query={"foo": "bar"},
    )
    assert dl.primary == "01"
    assert hash(dl) == hash(parse_digital_link(dl.uri()))
    assert dl.uri() == "https://id.gs1.org/01/09521234543213/10/L%2F1/21/S1?17=270200&foo=bar"
    assert dl.uri("https://example.com/x") == (
        "https://example.com/x/01/09521234543213/10/L%2F1/21/S1?17=270200&foo=bar"
    )


@pytest.mark.parametrize(
    "variant",
    [
        "id.gs1.org/01/09521234543213/10/L%2F1/21/S1?17=270200&foo=bar",
        "//id.gs1.org/01/09521234543213/10/L%2F1/21/S1?17=270200&foo=bar",
        "HTTPS://ID.GS1.ORG/01/09521234543213/10/L%2f1/21/S1?17=270200&foo=bar",
        "https://id.gs1.org/01/9521234543213/10/L%2F1/21/S1?17=270200&foo=bar",
        "https://id.gs1.org/gtin/09521234543213/lot/L%2F1/ser/S1?exp=270200&foo=bar",
        "https://id.gs1.org/GTIN/9521234543213/LOT/L%2F1/SER/S1?EXP=270200&foo=bar",
        "https://id.gs1.org/01/09521234543213?10=L%2F1&21=S1&17=270200&foo=bar",
        "https://id.gs1.org/01/09521234543213/10/L%2F1?foo=bar&21=S1&17=270200",
        "https://id.gs1.org/01/09521234543213/10/L%2F1/21/S1?foo=bar&17=270200",
        "https://id.gs1.org/01/09521234543213/10/L%2F1/21/S1/?17=270200&foo=bar",
        "https://id.gs1.org/01/09521234543213/10/L%2F1/21/S1?17=270200;foo=bar#section-2",
        "https://id.gs1.org/01/09521234543213/10/L%2F1/21/S1?17=270200&&foo=bar&",
        "https://id.gs1.org/01/09521234543213/10/L%2F1/21/S1?17=270200&foo=bar&10=L%2F1",
        "https://id.gs1.org/%30%31/09521234543213/10/L%2F1/21/S1?17=270200&foo=bar",
        "  https://id.gs1.org/01/09521234543213/10/L%2F1/21/S1?17=270200&foo=bar\r\n",
        "\ufeffhttps://id.gs1.org/01/09521234543213/10/L%2F1/21/S1?17=270200&foo=bar",
    ],
)
def test_tolerant_variants_parse_to_the_same_result(variant: str) -> None:
    dl = parse_digital_link(variant)
    ref = _reference()
    assert (dl.base, dl.gtin, dl.lot, dl.serial, dl.expiry, dl.query) == (
        ref.base,
        ref.gtin,
        ref.lot,
        ref.serial,
        ref.expiry,
        ref.query,
    )
    assert dl.ai == ref.ai  # same items (order may follow the input)
    assert dl.uri() == ref.uri()
    assert parse_digital_link(variant.encode()) == dl


def test_parse_keeps_path_prefix_and_pads_short_gtins() -> None:
    dl = parse_digital_link("https://Example.com/a/b%20c/01/96385074/")
    assert dl.base == "https://example.com/a/b%20c"
    assert dl.gtin == "00000096385074" and dl.lot is None and dl.serial is None
    # A prefix that itself looks like a Digital Link: the last primary key wins.
    dl = parse_digital_link("https://e.x/01/09521234543213/10/X/01/4006381333931/21/7")
    assert dl.base == "https://e.x/01/09521234543213/10/X"
    assert (dl.gtin, dl.lot, dl.serial) == ("04006381333931", None, "7")
    # A serial literally equal to a key name is a value, not a key.
    assert parse_digital_link("https://e.x/01/09521234543213/21/01").serial == "01"
    assert parse_digital_link("https://e.x/01/09521234543213/10/21/21/10").lot == "21"


def test_parse_other_primary_keys_and_free_query_values() -> None:
    dl = parse_digital_link("https://id.gs1.org/00/106141412345678908?02=09521234543213&37=25")
    assert dl.primary == "00" and dl.gtin is None
    assert dl.ai == {"00": "106141412345678908", "02": "09521234543213", "37": "25"}
    dl = parse_digital_link("https://id.gs1.org/414/0614141073467/254/1234")
    assert dl.ai == {"414": "0614141073467", "254": "1234"}
    dl = parse_digital_link("https://id.gs1.org/01/09521234543213?name=Ph%E1%BB%9F%20b%C3%B2&x")
    assert dl.query == {"name": "Phở bò", "x": ""}


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("https://id.gs1.org/", "no GS1 primary key"),
        ("https://id.gs1.org/foo/bar", "no GS1 primary key"),
        ("https://example.com/10/L1/21/S1", "no GS1 primary key"),
        ("https://id.gs1.org/01/09521234543213/21", "malformed"),
        ("https://id.gs1.org/01/09521234543214", "expected 3, got 4"),
        ("https://id.gs1.org/01/95212345432", "8, 12, 13 or 14 digits"),
        (
            "https://id.gs1.org/01/09521234543213/21/S1/10/L1",
            "out of order: AI 10 must come before AI 21",
        ),
        ("https://id.gs1.org/01/09521234543213/10/A/10/A", "appears twice"),
        ("https://id.gs1.org/01/09521234543213/10/L1?10=L2", "different values"),
        ("https://id.gs1.org/01/09521234543213?17=270101&exp=270102", "different values"),
        ("https://id.gs1.org/01/09521234543213?01=4006381333931", "different values"),
        ("https://id.gs1.org/01/09521234543213/21/%zz", "bad percent-escape '%zz'"),
        ("https://id.gs1.org/01/09521234543213/21/ab%2", "bad percent-escape"),
        ("https://id.gs1.org/01/09521234543213/21/ab%", "bad percent-escape"),
        ("https://id.gs1.org/01/09521234543213?x=%G1", "bad percent-escape"),
        ("https://id.gs1.org/01/09521234543213/21/%FF", "UTF-8"),
        ("https://id.gs1.org/01/09521234543213/21/%C3%A9", "non-ASCII"),
        ("https://id.gs1.org/01/09521234543213/21/é", "non-ASCII"),
        ("https://id.gs1.org/01/09521234543213/21/%00", "character set 82"),
        ("https://id.gs1.org/01/09521234543213/21/" + "9" * 21, "got 21"),
        ("https://id.gs1.org/01/09521234543213/17/270101", "AI 17 cannot appear in the path"),
        ("https://id.gs1.org/01/09521234543213/254/x", "not a key qualifier of primary key 01"),
        ("https://id.gs1.org/01/09521234543213/235/x/21/y", "cannot be combined"),
        ("https://id.gs1.org/01/09521234543213/235/x?21=y", "cannot be combined"),
        ("https://id.gs1.org/01/09521234543213?17=", "empty value"),
        ("https://id.gs1.org/01/09521234543213?17=271301", "month 13"),
        ("https://id.gs1.org/01/09521234543213?123456=x", "numeric"),
        ("https://id.gs1.org/01/09521234543213?=x", "empty name"),
        ("https://id.gs1.org/01/09521234543213?x=%0A", "control"),
        ("https://id.gs1.org//01/09521234543213", "empty segment"),
        ("https://id.gs1.org@evil.example/01/09521234543213", "'@'"),
        ("https://exa mple.com/01/09521234543213", "control or space"),
        ("https://exämple.com/01/09521234543213", "invalid host"),
        ("https://id.gs1.org:99999/01/09521234543213", "invalid port"),
        ("https:///01/09521234543213", "no host"),
        ("/01/09521234543213", "no host"),
        ("ftp://id.gs1.org/01/09521234543213", "scheme 'ftp'"),
        ("javascript:alert(1)//01/09521234543213", "scheme 'javascript'"),
        ("urn:epc:id:sgtin:0614141.107346.2017", "scheme 'urn'"),
        ("https:/id.gs1.org/01/09521234543213", "'://'"),
        ("https://id.gs1.org/01/09521234543213\x00", "NUL"),
        ("https://id.gs1.org/01/09521234543213/21/a\tb", "control or space"),
        ("https://id.gs1.org/01/" + "9" * 2100, "limit is 2048"),
        ("", "empty"),
        ("   ", "empty"),
        ("\ud800", "surrogate"),
    ],
)
def test_parse_rejections_say_why(uri: str, reason: str) -> None:
    with pytest.raises(GS1Error, match=reason):
        parse_digital_link(uri)


@pytest.mark.parametrize(
    "raw", [b"\xff\xfe", b"https://id.gs1.org/01/09521234543213/21/\xc3", 12345, None, ["x"]]
)
def test_parse_rejects_undecodable_bytes_and_other_types(raw: object) -> None:
    with pytest.raises(GS1Error):
        parse_digital_link(raw)  # type: ignore[arg-type]


def test_length_limit_is_exact() -> None:
    head = "https://id.gs1.org/01/09521234543213?x="
    ok = head + "a" * (MAX_URI_LENGTH - len(head))
    assert parse_digital_link(ok).query["x"] == "a" * (MAX_URI_LENGTH - len(head))
    with pytest.raises(GS1Error, match="limit"):
        parse_digital_link(ok + "a")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    gtin=gtins(),
    lot=st.none() | cset82_text,
    serial=st.none() | cset82_text,
    expiry=st.none() | window_dates,
    extra=st.dictionaries(free_keys, free_text, max_size=3),
    weight=st.none() | st.text(alphabet="0123456789", min_size=6, max_size=6),
    prefix=st.sampled_from(["", "/", "/dl", "/a/01/b"]),
)
def test_build_parse_round_trip(gtin, lot, serial, expiry, extra, weight, prefix) -> None:
    extras = dict(extra)
    if weight is not None:
        extras["3103"] = weight
    base = "https://resolver.example" + prefix
    uri = build_digital_link(base, gtin, lot=lot, serial=serial, expiry=expiry, extra=extras)
    dl = parse_digital_link(uri)
    assert dl.base == "https://resolver.example" + prefix.rstrip("/")
    assert dl.gtin == validate_gtin(gtin)
    assert (dl.lot, dl.serial) == (lot, serial)
    assert dl.expiry == (None if expiry is None else expiry_to_ai17(expiry))
    if expiry is not None:
        assert ai17_to_date(dl.expiry) == expiry
    assert dl.query == extra
    assert dl.ai.get("3103") == weight
    assert parse_digital_link(dl.uri()) == dl
    if weight is None:
        assert dl.uri() == uri  # canonical: build already emits the canonical form


# --------------------------------------------------------------------------- hostile input

PARSERS = [parse_digital_link, epc_to_digital_link, parse_sgtin_urn, parse_element_string]


def _only_gs1error(fn, value) -> None:
    with contextlib.suppress(GS1Error):
        fn(value)


@settings(max_examples=400)
@given(st.text())
def test_hostile_text_only_raises_gs1error(s: str) -> None:
    for fn in PARSERS:
        _only_gs1error(fn, s)
    for fn in (validate_gtin, validate_lot, validate_serial, ai17_to_date, expiry_to_ai17):
        _only_gs1error(fn, s)
    assert isinstance(is_epc_uri(s), bool)


@settings(max_examples=300)
@given(st.binary())
def test_hostile_bytes_only_raise_gs1error(b: bytes) -> None:
    for fn in PARSERS:
        _only_gs1error(fn, b)
    assert isinstance(is_epc_uri(b), bool)


URLISH = st.text(alphabet="/01%2Fa?=&;#:.-_~ABgtinlotserexp0123456789é\x00 (%)Ff", max_size=60)


@settings(max_examples=600)
@given(
    head=st.sampled_from(
        [
            "https://id.gs1.org/01/09521234543213",
            "id.gs1.org/gtin/9521234543213",
            "http://e.x/",
            "urn:epc:id:sgtin:0614141.107346.",
            "urn:epc:id:sgln:0614141.07346.",
            "(01)09521234543213",
            "urn:epc:class:lgtin:0614141.107346.",
            "https://id.gs1.org/00/106141412345678908",
        ]
    ),
    tail=URLISH,
)
def test_structured_fuzz_only_raises_gs1error(head: str, tail: str) -> None:
    s = head + tail
    for fn in PARSERS:
        _only_gs1error(fn, s)
        _only_gs1error(fn, s.encode("utf-8"))
    assert isinstance(is_epc_uri(s), bool)


@pytest.mark.parametrize(
    "huge",
    [
        "https://id.gs1.org/01/" + "9" * 10_000_000,
        "a" * 10_000_000,
        "(01)" + "0" * 10_000_000,
        "urn:epc:id:sgtin:0614141.107346." + "1" * 10_000_000,
    ],
)
def test_ten_megabytes_is_rejected_quickly(huge: str) -> None:
    for fn in PARSERS:
        with pytest.raises(GS1Error, match="limit"):
            fn(huge)
        with pytest.raises(GS1Error, match="limit"):
            fn(huge.encode())
    assert is_epc_uri(huge) is False
    with pytest.raises(GS1Error):
        validate_gtin(huge[-10_000_000:])


# --------------------------------------------------------------------------- EPC identifiers


def test_epcis_example_identifiers() -> None:
    # urn:epc:id:sgtin:0614141.107346.2017: indicator digit 1, company prefix 0614141, item
    # reference 07346 -> GTIN 1 0614141 07346 + check digit 4 (TDS, SGTIN <-> GTIN).
    # (00614141073467 would be the item 0614141.007346, indicator 0.)
    assert epc_to_digital_link("urn:epc:id:sgtin:0614141.107346.2017") == (
        "https://id.gs1.org/01/10614141073464/21/2017"
    )
    assert epc_to_digital_link("urn:epc:id:sgtin:0614141.007346.2017") == (
        "https://id.gs1.org/01/00614141073467/21/2017"
    )
    # SSCC: extension digit 1 moves in front of the company prefix, check digit 8 appended.
    assert epc_to_digital_link("urn:epc:id:sscc:0614141.1234567890") == (
        "https://id.gs1.org/00/106141412345678908"
    )
    # SGLN: company prefix + location reference + check digit 7; extension as AI 254.
    assert epc_to_digital_link("urn:epc:id:sgln:0614141.07346.1234") == (
        "https://id.gs1.org/414/0614141073467/254/1234"
    )
    assert epc_to_digital_link("urn:epc:id:sgln:0614141.07346.0") == (
        "https://id.gs1.org/414/0614141073467"
    )
    assert sgtin_urn("10614141073464", "2017", 7) == "urn:epc:id:sgtin:0614141.107346.2017"
    assert parse_sgtin_urn("urn:epc:id:sgtin:0614141.107346.2017") == ("10614141073464", "2017")
    assert (
        sgtin_digital_link("10614141073464", "2017")
        == "https://id.gs1.org/01/10614141073464/21/2017"
    )
    # Digital Link inputs normalise to the same canonical form.
    for uri in (
        "https://id.gs1.org/01/10614141073464/21/2017",
        "HTTP://Example.COM/resolver/gtin/10614141073464/lot/L1/ser/2017?17=270101#x",
        "id.gs1.org/01/10614141073464/22/blue/21/2017/",
    ):
        assert epc_to_digital_link(uri) == "https://id.gs1.org/01/10614141073464/21/2017"
    assert epc_to_digital_link("https://x.example/00/106141412345678908?02=09521234543213") == (
        "https://id.gs1.org/00/106141412345678908"
    )


# The CBV 2.0 event-hash reference's canonical Digital Link URIs for the EPCs of its
# "epclist_normalisation" example (GS1 epcis-event-hash-generator, MIT): input -> expected.
EPCLIST_NORMALISATION = {
    "urn:epc:id:sgtin:4012345.011111.9876": "https://id.gs1.org/01/04012345111118/21/9876",
    "urn:epc:id:sgtin:4012345.011111.98%22": "https://id.gs1.org/01/04012345111118/21/98%22",
    "urn:epc:id:sgtin:415056789012.0.987654": "https://id.gs1.org/01/04150567890128/21/987654",
    "urn:epc:id:sgtin:0614141.812345.6789%2F%26%25%22!%3F()": "https://id.gs1.org/01/80614141123458/21/6789%2F%26%25%22%21%3F%28%29",
    "urn:epc:id:sscc:4012345.3111111111": "https://id.gs1.org/00/340123451111111111",
    "urn:epc:id:sgln:4012345.00005.122": "https://id.gs1.org/414/4012345000054/254/122",
    "urn:epc:id:sgln:4012345.00005.0": "https://id.gs1.org/414/4012345000054",
    "urn:epc:id:grai:4012345.00022.334455": "https://id.gs1.org/8003/04012345000221334455",
    "urn:epc:id:giai:4012345.ABC345": "https://id.gs1.org/8004/4012345ABC345",
    "urn:epc:id:gsrn:4012345.0000006765": "https://id.gs1.org/8018/401234500000067657",
    "urn:epc:id:gsrnp:4012345.0000000007": "https://id.gs1.org/8017/401234500000000074",
    "urn:epc:id:gdti:4012345.00009.PO-4711": "https://id.gs1.org/253/4012345000092PO-4711",
    "urn:epc:id:gdti:987659999999..9": "https://id.gs1.org/253/98765999999929",
    "urn:epc:id:cpi:0614141.11111111111111-A%23%2F.1234": "https://id.gs1.org/8010/061414111111111111111-A%23%2F/8011/1234",
    "urn:epc:id:ginc:0614141.xyz47%2F11": "https://id.gs1.org/401/0614141xyz47%2F11",
    "urn:epc:id:gsin:4012345.222333444": "https://id.gs1.org/402/40123452223334442",
    "urn:epc:id:itip:4012345.011111.01.02.987": "https://id.gs1.org/8006/040123451111180102/21/987",
    "urn:epc:id:upui:1234567.098765.51qIgY)%3C%26Jp3*j7'SDB": "https://id.gs1.org/01/01234567987651/235/51qIgY%29%3C%26Jp3%2Aj7'SDB",
    "urn:epc:id:pgln:4000001.00000": "https://id.gs1.org/417/4000001000005",
    "urn:epc:id:pgln:999999999999.": "https://id.gs1.org/417/9999999999994",
    "urn:epc:class:lgtin:4012345.012345.Lot987": "https://id.gs1.org/01/04012345123456/10/Lot987",
    "https://id.gs1.org/gtin/09780345418913": "https://id.gs1.org/01/09780345418913",
    "https://example.com/gtin/09780345418913/21/765tz?abc=211121": "https://id.gs1.org/01/09780345418913/21/765tz",
}


@pytest.mark.parametrize(("epc", "expected"), sorted(EPCLIST_NORMALISATION.items()))
def test_epc_to_digital_link_matches_cbv2_reference(epc: str, expected: str) -> None:
    assert epc_to_digital_link(epc) == expected
    # The canonical form is a fixed point and parses back to the same key.
    assert epc_to_digital_link(expected) == expected
    parse_digital_link(expected)


@pytest.mark.skipif(not CONFORMANCE.is_dir(), reason="shared conformance data not present")
def test_epclist_normalisation_table_matches_conformance_files() -> None:
    base = CONFORMANCE / "epcis-event-hash" / "epclist_normalisation"
    doc = json.loads(base.with_suffix(".jsonld").read_text())
    epcs = doc["epcisBody"]["eventList"][0]["epcList"]
    assert sorted(epcs) == sorted(EPCLIST_NORMALISATION)
    prehash = base.with_suffix(".prehashes").read_text()
    expected = re.findall(r"epc=(.*?)(?=epc=|action=)", prehash)
    assert sorted(epc_to_digital_link(e) for e in epcs) == sorted(expected)


# Pre-hash files the conformance README marks as stale upstream.
STALE_PREHASHES = {
    "epcisDocWithAllGS1Keys",
    "epcisDocWithCustomSchemaInContext",
    "epcisDocWithDefaultSchemaInContext",
}
URN_RE = re.compile(r'urn:epc:(?:id|class):[a-z]+:[^"<,\s]+')


@pytest.mark.skipif(not CONFORMANCE.is_dir(), reason="shared conformance data not present")
def test_every_conformance_epc_converts_as_the_reference_does() -> None:
    seen = 0
    for path in sorted(CONFORMANCE.rglob("*")):
        if path.suffix not in (".jsonld", ".json", ".xml"):
            continue
        text = path.read_text(errors="replace")
        prehash = path.with_suffix(".prehashes")
        check = path.suffix == ".jsonld" and prehash.exists() and path.stem not in STALE_PREHASHES
        reference = prehash.read_text() if check else ""
        for urn in set(URN_RE.findall(text)):
            dl = epc_to_digital_link(urn)
            assert dl.startswith("https://id.gs1.org/")
            assert is_epc_uri(urn) == urn.startswith("urn:epc:id:")
            if check:
                assert dl in reference, (path.name, urn, dl)
            seen += 1
    assert seen > 100


@settings(max_examples=300)
@given(gtin=gtins(), serial=cset82_text, cpl=st.integers(6, 12))
def test_sgtin_urn_round_trips(gtin: str, serial: str, cpl: int) -> None:
    urn = sgtin_urn(gtin, serial, cpl)
    assert urn.startswith("urn:epc:id:sgtin:")
    cp, iir, ser = urn[len("urn:epc:id:sgtin:") :].split(".", 2)
    assert len(cp) == cpl and len(cp) + len(iir) == 13
    assert not set(ser) & set('"&/<>?')  # TDS escapes
    assert parse_sgtin_urn(urn) == (validate_gtin(gtin), serial)
    assert parse_sgtin_urn(urn.upper()[:17] + urn[17:]) == (validate_gtin(gtin), serial)
    dl = sgtin_digital_link(gtin, serial)
    assert epc_to_digital_link(urn) == dl
    assert epc_to_digital_link(dl) == dl
    parsed = parse_digital_link(dl)
    assert (parsed.gtin, parsed.serial) == (validate_gtin(gtin), serial)
    assert is_epc_uri(urn) and is_epc_uri(dl)


def test_sgtin_urn_escapes_and_rejections() -> None:
    assert sgtin_urn("09521234543213", 'a/b"c%d&<>?', 7) == (
        "urn:epc:id:sgtin:9521234.054321.a%2Fb%22c%25d%26%3C%3E%3F"
    )
    with pytest.raises(GS1Error, match="6 to 12"):
        sgtin_urn("09521234543213", "1", 5)
    with pytest.raises(GS1Error, match="int"):
        sgtin_urn("09521234543213", "1", True)  # type: ignore[arg-type]
    with pytest.raises(GS1Error, match="check digit"):
        sgtin_urn("09521234543214", "1", 7)


@pytest.mark.parametrize(
    ("urn", "reason"),
    [
        ("urn:epc:id:sgtin:0614141.107346", "3 dot-separated parts"),
        ("urn:epc:id:sgtin:0614141.10734.2017", "6 digits with a 7-digit company prefix"),
        ("urn:epc:id:sgtin:06141.1073460.2017", "6 to 12 digits"),
        ("urn:epc:id:sgtin:0614141.107346.", "got 0"),
        ("urn:epc:id:sgtin:0614141.107346.a/b", "must be percent-encoded"),
        ("urn:epc:id:sgtin:0614141.107346.a%2", "bad percent-escape"),
        ("urn:epc:id:sgtin:0614141.107346.%C3%A9", "non-ASCII"),
        ("urn:epc:id:sgtin:0614141.107346." + "1" * 21, "got 21"),
        ("urn:epc:id:sscc:0614141.123456789", "10 digits"),
        ("urn:epc:id:gid:95100000.12345.400", "no GS1 Digital Link equivalent"),
        ("urn:epc:idpat:sgtin:0614141.107346.*", "pattern"),
        ("urn:epc:tag:sgtin-96:3.0614141.812345.6789", "pure identity"),
        ("urn:isbn:0451450523", "not an EPC URI"),
        ("urn:epc:id:sgtin:0614141.107346.2017\x00", "NUL"),
    ],
)
def test_epc_urn_rejections(urn: str, reason: str) -> None:
    with pytest.raises(GS1Error, match=reason):
        epc_to_digital_link(urn)
    assert is_epc_uri(urn) is False


def test_parse_sgtin_urn_rejects_other_schemes() -> None:
    with pytest.raises(GS1Error, match="SGTIN"):
        parse_sgtin_urn("urn:epc:id:sscc:0614141.1234567890")
    with pytest.raises(GS1Error, match="SGTIN"):
        parse_sgtin_urn("https://id.gs1.org/01/10614141073464/21/2017")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("urn:epc:id:sgtin:0614141.107346.2017", True),
        ("URN:EPC:ID:SGTIN:0614141.107346.2017", True),
        (b"urn:epc:id:sscc:0614141.1234567890", True),
        ("https://id.gs1.org/01/10614141073464/21/2017", True),
        ("https://id.gs1.org/00/106141412345678908", True),
        ("https://id.gs1.org/414/0614141073467", True),
        ("https://id.gs1.org/8003/04012345000221", False),  # GRAI without serial: a class
        ("https://id.gs1.org/01/10614141073464", False),
        ("https://id.gs1.org/01/10614141073464/10/L1", False),
        ("urn:epc:class:lgtin:4012345.012345.Lot987", False),
        ("urn:antifake:stamp:1234", False),
        ("https://id.gs1.org/01/10614141073465/21/2017", False),
        ("", False),
        (None, False),
        (42, False),
    ],
)
def test_is_epc_uri(value: object, expected: bool) -> None:
    assert is_epc_uri(value) is expected


# --------------------------------------------------------------------------- element strings


def test_element_string_example_and_parse() -> None:
    s = element_string("9521234543213", lot="L23", expiry="2027-12-31", serial="abc")
    assert s == "(01)09521234543213(17)271231(10)L23(21)abc"
    assert parse_element_string(s) == {
        "01": "09521234543213",
        "17": "271231",
        "10": "L23",
        "21": "abc",
    }
    assert list(parse_element_string(s)) == ["01", "17", "10", "21"]
    assert element_string("09521234543213") == "(01)09521234543213"
    assert parse_element_string(b" (01) 09521234543213 (21) 1(2)3 \n") == {
        "01": "09521234543213",
        "21": "1(2)3",
    }


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("0109521234543213", "must start with"),
        ("x(01)09521234543213", "must start with"),
        ("(01)9521234543213", "14 digits"),
        ("(01)09521234543214", "expected 3"),
        ("(01)09521234543213(17)271332", "month 13"),
        ("(01)09521234543213(10)L 23", "' '"),
        ("(01)09521234543213(10)", "empty value"),
        ("(01)09521234543213(21)a(21)b", "different values"),
        ("(01)09521234543213(21)" + "x" * 21, "got 21"),
        ("(01)09521234543213\x00", "NUL"),
    ],
)
def test_parse_element_string_rejections(text: str, reason: str) -> None:
    with pytest.raises(GS1Error, match=reason):
        parse_element_string(text)


def test_element_string_refuses_ambiguous_values() -> None:
    with pytest.raises(GS1Error, match="ambiguous"):
        element_string("09521234543213", lot="A(21)B")


@given(
    gtin=gtins(),
    lot=st.none() | cset82_text,
    serial=st.none() | cset82_text,
    expiry=st.none() | window_dates,
)
def test_element_string_round_trip(gtin, lot, serial, expiry) -> None:
    for v in (lot, serial):
        assume(v is None or not re.search(r"\([0-9]{2,4}\)", v))
    s = element_string(gtin, lot=lot, expiry=expiry, serial=serial)
    parsed = parse_element_string(s)
    assert parsed["01"] == validate_gtin(gtin)
    assert parsed.get("10") == lot and parsed.get("21") == serial
    assert parsed.get("17") == (None if expiry is None else expiry_to_ai17(expiry))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["urn:epc:id:sgtin:0614141.812345.", "urn:epc:id:sgln:0614141.07346.",
                        "urn:epc:id:grai:0614141.12345.", "urn:epc:id:giai:0614141.",
                        "urn:epc:class:lgtin:4012345.012345.",
                        "https://id.gs1.org/01/09521234543213/21/",
                        "https://example.com/01/09521234543213/10/L1/21/"]),
       st.text(alphabet="ABCxyz019-_.!'()*+,:;=%2F", min_size=1, max_size=12))
def test_strict_and_canonical_forms_agree(prefix: str, tail: str) -> None:
    """One canonical form: where both the strict converter and the canonicaliser the event
    hash and the registry use (lenient as GS1's reference) accept an EPC, they agree."""
    text = prefix + tail
    try:
        strict = gs1.epc_to_digital_link(text)
    except GS1Error:
        return
    canonical = gs1.canonical_gs1_uri(text)
    assert canonical in (strict, None)
    if text.startswith("urn:"):
        assert canonical == strict  # every valid EPC URN has its canonical form
    # a Digital Link whose values use characters outside the reference's narrower pattern is
    # left as written by the canonicaliser (None), as GS1's reference does


def test_one_check_digit() -> None:
    from antifake.gs1.canonical import check_digit

    for body in ("952123454321", "0952123454321", "061414112345", "1234567"):
        assert gs1.gtin_check_digit(body) == check_digit(body)
