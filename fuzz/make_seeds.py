"""Write the seed corpora (fuzz/corpus/NAME/): genuine inputs of every form, made with a fixed
key, plus a few hand-made edge cases. Run once; the seeds are committed."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
HERE = Path(__file__).parent


def put(name: str, blobs: list[bytes]) -> None:
    d = HERE / "corpus" / name
    d.mkdir(parents=True, exist_ok=True)
    for b in blobs:
        (d / hashlib.sha1(b).hexdigest()).write_bytes(b)


def main() -> None:
    from _common import keyring
    from antifake import IssuerKey
    from datetime import UTC, datetime

    _, texts = keyring()
    edge = ["", " ", "https://", "HTTPS://V.EXAMPLE/S/", "/01/", "?s=", "&&", "%zz", "0" * 20]
    put("text", [t.encode() for t in texts + edge] + [(texts[-1] + "&&").encode()])
    put("bulk_diff", ["\n".join(texts).encode(), "\n".join(texts[::-1] + edge).encode()]
        + [t.encode() for t in texts])
    from _common import manifest  # noqa: F401
    seed = bytes(range(32))
    key = IssuerKey("fuzz-issuer", 0x1234, seed, seed[::-1],
                    datetime(2026, 1, 1, tzinfo=UTC), datetime(2029, 1, 1, tzinfo=UTC))
    import antifake as af
    b = af.issue(key, 3, at=datetime(2026, 6, 1, tzinfo=UTC))
    g = af.issue(key, 2, at=datetime(2026, 6, 1, tzinfo=UTC),
                 product=af.codes.GS1Attributes("09521234543213", "LOT7", None))
    put("manifest", [b.manifest.to_bytes(), g.manifest.to_bytes(), b"AFMANIF1"])
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "k.key"
        key.save(p)
        plain = p.read_bytes()
        key.save(p, b"pw", kdf="interactive")
        sealed = p.read_bytes()
    ring = af.Keyring([key.public], clock=lambda: datetime(2026, 6, 2, tzinfo=UTC))
    ring.add_manifest(b.manifest)
    ring.revoke(key.key_id, at=datetime(2026, 7, 1, tzinfo=UTC))
    put("keyfile", [plain, sealed, key.public.to_json().encode(), b"[[[]]]", b"{}",
                    ring.to_bytes()])
    conf = Path("/work/shared/conformance")
    docs = []
    for f in sorted(conf.rglob("*.json*"))[:40] if conf.is_dir() else []:
        data = f.read_bytes()
        if len(data) < 20000:
            docs.append(data)
    ev = af.Event.commission(["urn:epc:id:sgtin:0614141.107346.2017"], by="urn:epc:id:pgln:0614141.00001",
                             at=datetime(2026, 6, 1, tzinfo=UTC))
    docs.append(json.dumps(ev.to_epcis()).encode())
    docs.append(json.dumps({"type": "EPCISDocument", "schemaVersion": "2.0",
                            "epcisBody": {"eventList": [ev.to_epcis()]}}).encode())
    put("epcis", docs)


if __name__ == "__main__":
    main()
