"""Regenerate tests/vectors/stamps.json (run only when the format version changes).

The vectors use fixed secrets (see tests/conftest.py::fixed_key) and fixed serials; Ed25519
and BLAKE3 are deterministic, so every field is reproducible.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import blake3  # noqa: E402

from antifake import codes as C  # noqa: E402
from conftest import BASE, fixed_key  # noqa: E402

CASES = [
    # (batch_id, index, serial, gs1)
    (0, 0, 0, None),
    (1, 1, 1, None),
    (0xFFFFFF, 0xFFFFFF, (1 << 64) - 1, None),
    (7, 123456, 0x0123456789ABCDEF, None),
    (42, 9, 0xFEDCBA9876543210, C.GS1Attributes("09521234543213", "L23", "271231")),
    (42, 10, 0x0F0F0F0F0F0F0F0F, C.GS1Attributes("09521234543213", None, None)),
]


def main() -> None:
    key = fixed_key()
    out = {"issuer": key.issuer, "key_id": key.key_id, "seed_hex": "01" * 32,
           "mac_secret_hex": "02" * 32, "public_key_hex": key.public.public_key.hex(),
           "base": BASE, "stamps": []}
    for batch_id, index, serial, gs1 in CASES:
        body = C.pack_body(key.key_id, batch_id, index, serial)
        msg = C.signed_message(body, gs1)
        sig = key.sign(msg)
        tag = blake3.blake3(C.tag_message(key.key_id, batch_id, index),
                            key=key.tag_key()).digest(5)
        pin = blake3.blake3(C.pin_message(key.key_id, batch_id, index),
                            key=key.pin_key()).digest(5)
        url = (C.encode_gs1_url(BASE, body, sig, gs1) if gs1
               else f"{BASE}/{C.encode_code(body, sig)}")
        out["stamps"].append({
            "batch_id": batch_id, "index": index, "serial": str(serial),
            "gtin": gs1.gtin if gs1 else None, "lot": gs1.lot if gs1 else None,
            "expiry": gs1.expiry if gs1 else None,
            "body_hex": body.hex(), "signed_message_hex": msg.hex(), "signature_hex": sig.hex(),
            "url": url, "number": C.format_number(C.encode_number(key.key_id, batch_id, index,
                                                                   tag)),
            "pin": C.format_pin(C.encode_pin(pin)),
        })
    path = Path(__file__).with_name("stamps.json")
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
