"""What registry calls return: import results, a stamp's status, claim results."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from antifake.storage import (
    StampRow,
)
from antifake.verify import Status


@dataclass(frozen=True)
class ImportResult:
    """Event ids (CBV 2.0 hashes) in input order, and how many of them were new."""

    event_ids: list[str]
    new: int

    def __len__(self) -> int:
        return len(self.event_ids)


@dataclass(frozen=True)
class StampStatus:
    """What the registry knows about a stamp (or any EPC it holds)."""

    epc: str
    state: str  # "active" or "decommissioned"
    reason: str | None  # why it was decommissioned
    since: datetime | None  # time of the last lifecycle change (None: never changed)
    claim: str  # "unclaimed", "claimed" or "locked"
    wrong_pins: int
    attempts: int  # claim attempts recorded
    claimed_at: datetime | None
    last_event_id: str | None
    last_event_time: datetime | None
    registered: bool  # a stamp of a registered batch (False: an EPC seen in events only)
    suspected: str | None = None  # alert kind when detection found copies (flag_suspected)

    @property
    def active(self) -> bool:
        return self.state == "active"


@dataclass(frozen=True)
class ClaimResult:
    """The outcome of a claim: ``ok`` only for the first correct PIN.

    ``result`` is the ``af:claim`` value recorded: ``ok``, ``wrong_pin``, ``mistyped`` (check
    character wrong: not counted), ``locked``, ``already_claimed``, ``inactive``
    (decommissioned) or ``refused`` (the key no longer vouches for the stamp). ``status``:
    AUTHENTIC, BAD_TAG (wrong PIN), BAD_CHECK_CHARACTER / MALFORMED (mistyped), ALREADY_CLAIMED,
    UNVERIFIABLE (locked: the PIN is no longer checked), DECOMMISSIONED / RECALLED / STOLEN, or
    the key's status."""

    ok: bool
    result: str
    status: Status
    reason: str
    epc: str
    claim: str  # claim state after the attempt
    wrong_pins: int
    attempts_left: int
    event_id: str
    claimed_at: datetime | None


@dataclass(frozen=True, slots=True)
class _Resolved:
    node: int
    epc: str
    stamp: StampRow | None
