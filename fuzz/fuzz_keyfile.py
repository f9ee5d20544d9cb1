"""Key files, public-key files and keyring files: `IssuerKey.load` (through a file),
`IssuerPublicKey.from_json` and `Keyring.from_bytes` give a key (ring) or a typed
`InvalidKey` (`KeyringError` is one)."""

from __future__ import annotations

import os
import tempfile

from _common import af, keys, main, trust

_DIR = tempfile.mkdtemp(prefix="af-fuzz-key-")
_PATH = os.path.join(_DIR, "k.key")


def test_one_input(data: bytes) -> None:
    try:
        keys.IssuerPublicKey.from_json(data)
    except af.InvalidKey:
        pass
    try:
        ring = trust.Keyring.from_bytes(data)
    except af.KeyringError:
        pass
    else:
        assert trust.Keyring.from_bytes(ring.to_bytes()).to_bytes() == ring.to_bytes()
    with open(_PATH, "wb") as f:
        f.write(data)
    for pw in (None, b"pw"):
        try:
            keys.IssuerKey.load(_PATH, pw)
        except af.InvalidKey:
            pass


if __name__ == "__main__":
    main(test_one_input)
