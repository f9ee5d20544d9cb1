"""`Manifest.from_bytes`: a typed `ManifestError` or a manifest that round-trips."""

from __future__ import annotations

from _common import af, main, manifest

PUB = None


def test_one_input(data: bytes) -> None:
    try:
        m = manifest.Manifest.from_bytes(data)
    except af.ManifestError:
        return
    assert m.to_bytes() == data
    assert m.count == m.fingerprints.shape[0]


if __name__ == "__main__":
    main(test_one_input)
