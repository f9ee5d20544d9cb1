"""EPCIS 2.0 JSON-LD import (`parse_document`) and the CBV 2.0 event hash of whatever JSON
the input holds: an `EPCISError` (or another antifake error), never a Python internal one."""

from __future__ import annotations

import json

from _common import af, epcis, event_hash, main


def test_one_input(data: bytes) -> None:
    try:
        doc = epcis.parse_document(data)
    except af.AntifakeError:
        pass
    else:
        assert len(doc.event_ids) == len(doc.events)
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return
    events = value if isinstance(value, list) else [value]
    for ev in events[:8]:
        try:
            event_hash.event_hash(ev)
        except af.AntifakeError:
            pass


if __name__ == "__main__":
    main(test_one_input)
