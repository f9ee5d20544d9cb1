"""Random and hostile input never crashes, never raises a foreign exception, never passes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import antifake as af
from antifake import codes as C
from conftest import BASE

KEY = af.IssuerKey.generate("VN-HOSTILE")
BATCH = af.issue(KEY, 4, product=None)
GS1_BATCH = af.issue(KEY, 2, product=af.Product(gtin="09521234543213", lot="A1"))
RING = af.Keyring([KEY])
RING.add_manifest(BATCH.manifest)
URL = BATCH.urls(BASE)[0]
GS1_URL = GS1_BATCH.urls(BASE)[0]
NUMBER = BATCH.numbers()[0]

texts = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=300),
    st.text(alphabet=C.ALPHABET + "ilo-/ :.?=&%", max_size=260),
    st.builds(lambda a, b: URL[:a] + b + URL[a:], st.integers(0, len(URL)), st.text(max_size=3)),
    st.builds(lambda a, b: GS1_URL[:a] + b + GS1_URL[a + 1:], st.integers(0, len(GS1_URL)),
              st.text(max_size=2)),
    st.builds(lambda a: URL[:a], st.integers(0, len(URL))),
    st.builds(lambda a: GS1_URL[:a], st.integers(0, len(GS1_URL))),
    st.builds(lambda a, b: NUMBER[:a] + b + NUMBER[a + 1:], st.integers(0, 23),
              st.sampled_from(list(C.ALPHABET))),
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts)
def test_verify_never_crashes_or_accepts_garbage(text: str | bytes) -> None:
    v = af.verify(text, RING)
    assert isinstance(v.status, af.Status) and v.reason
    if v.ok:  # only the genuine texts themselves (or tolerated variants of them) may pass
        assert v.stamp is not None and v.stamp.key_id == KEY.key_id
        assert v.stamp.index in (0, 1, 2, 3)
    bulk = af.verify_many([text], RING)
    assert bulk.status[0] == v.status


@settings(max_examples=200, deadline=None)
@given(st.lists(texts, max_size=20))
def test_bulk_matches_single_on_random_lists(items: list) -> None:
    res = af.verify_many(items, RING)
    assert res.status.tolist() == [int(af.verify(t, RING).status) for t in items]


@pytest.mark.parametrize("text", [
    "x" * 10_000_000, b"\x00" * 10_000_000, URL * 1000, "\x00", "\ud800", "🙂" * 200,
    URL.replace("/", "\x00"), URL + "\x00", "https://", "?", "#", "%", "%zz", "/" * 500,
    BASE + "/01/", BASE + "/01/09521234543213/21/", GS1_URL.split("?")[0],
    GS1_URL + "&s=" + "0" * 117, GS1_URL.replace("s=", "s=%"), NUMBER[:-1], NUMBER + "0",
    bytearray(URL.encode()), memoryview(URL.encode()),
    "?/01/02091021323344/10/0/21/0000000000000?S=" + "1" + "0" * 116,
])
def test_hostile_inputs_get_a_verdict(text: object) -> None:
    v = af.verify(text, RING)  # type: ignore[arg-type]
    assert isinstance(v, af.Verdict)
    assert not v.ok or text in (bytearray(URL.encode()), memoryview(URL.encode()))
    assert af.verify_many([text], RING).status[0] == v.status  # type: ignore[list-item]


def test_spaced_number_is_tolerated() -> None:
    assert af.verify(" ".join(NUMBER), RING).ok


def test_non_text_inputs() -> None:
    for obj in (None, 42, 3.5, [URL], object()):
        assert af.verify(obj, RING).status == af.Status.MALFORMED  # type: ignore[arg-type]
    res = af.verify_many([None, 42, URL], RING)  # type: ignore[list-item]
    assert res.status.tolist() == [af.Status.MALFORMED, af.Status.MALFORMED, af.Status.AUTHENTIC]
    assert af.verify_many(np.array([], dtype=object), RING).status.size == 0


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=40), st.binary(max_size=40)))
def test_pin_parser_never_crashes(pin: str | bytes) -> None:
    v = af.verify_pin(URL, pin, RING)
    assert v.status in (af.Status.MALFORMED, af.Status.BAD_CHECK_CHARACTER, af.Status.BAD_TAG,
                        af.Status.AUTHENTIC)
