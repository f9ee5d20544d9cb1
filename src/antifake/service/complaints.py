"""Reports of suspected fakes, stored as events in the registry so that they show in a
stamp's history and evidence.

A complaint is an EPCIS ObjectEvent OBSERVE with bizStep ``af:complaining`` about the stamp's
EPC, recorded by the service's party, holding the text in ``af:complaint`` and an optional
contact in ``af:contact``. It changes no custody or lifecycle state (its event kind is
``OTHER``), so detection does not take it for activity of the stamp itself.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from antifake.epcis.events import Event

__all__ = ["BIZ_COMPLAINING", "complaint_event", "record_complaint"]

BIZ_COMPLAINING = "af:complaining"


def complaint_event(epc: str, text: str, contact: str | None, by: str,
                    at: datetime | None = None) -> Event:
    """The event that stores one complaint."""
    ext: dict[str, Any] = {"af:complaint": text}
    if contact:
        ext["af:contact"] = contact
    return Event(type="ObjectEvent", action="OBSERVE", time=at or datetime.now(UTC),
                 epcs=(epc,), biz_step=BIZ_COMPLAINING, by=by, extensions=ext)


def record_complaint(state: Any, epc: str, text: str, contact: str | None) -> str:
    """Record a complaint about ``epc``; returns its event id."""
    return str(state.registry.record(complaint_event(epc, text, contact, state.scan_party)))
