"""Single-text parsers: stamp codes, QR/GS1 URLs, stamp numbers, PINs, GS1 Digital Link, and
`verify` / `verify_pin` on top of them (a verdict for any text, never an exception)."""

from __future__ import annotations

from _common import Status, af, codes, gs1, keyring, main, parse_pin, verify, verify_pin

RING, _ = keyring()
CODE = _[0]


def test_one_input(data: bytes) -> None:
    for text in (data, data.decode("utf-8", "surrogateescape"), data.decode("latin-1")):
        try:
            codes.parse(text)
        except codes.ParseFailure:
            pass
        v = verify(text, RING)
        assert isinstance(v.status, Status)
    text = data.decode("latin-1")
    try:
        parse_pin(text)
    except codes.ParseFailure:
        pass
    assert isinstance(verify_pin(CODE, text, RING).status, Status)
    try:
        gs1.parse_digital_link(text)
    except af.AntifakeError:
        pass


if __name__ == "__main__":
    main(test_one_input)
