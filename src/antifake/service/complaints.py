"""Reports of suspected fakes, stored as events in the registry so that they show in a
stamp's history and evidence.

A complaint is an EPCIS ObjectEvent OBSERVE with bizStep ``af:complaining`` about the stamp's
EPC, recorded by the service's party, holding the text in ``af:complaint`` and an optional
contact in ``af:contact``. Its event kind is ``COMPLAINT``: it changes no custody or lifecycle
state and detection never takes it for activity of the stamp itself (a report about a stolen
or recalled stamp is no sign that the stamp is in circulation), while the stamp's history and
evidence bundle show it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from antifake.epcis.events import BIZ_COMPLAINING, Event

__all__ = ["BIZ_COMPLAINING", "complaint_event", "record_complaint"]


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
