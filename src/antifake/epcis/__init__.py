"""The GS1 EPCIS 2.0 event model: events, their JSON-LD form, the CBV 2.0 event hash that is
each event's identity, and the kinds and detail codes every layer above shares."""
