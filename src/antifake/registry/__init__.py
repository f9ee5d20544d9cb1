"""The registry: stamps, parties and every event of their lives, in a transactional store.

[`Registry`][antifake.registry.Registry] is the public face; the rows live
behind the [`Storage`][antifake.storage.abc.Storage] interface (SQLite or PostgreSQL).
What the registry adds to storage are the rules:

* **Identity.** An event's identity is its CBV 2.0 hash (``Event.event_id``): recording it
  again is a no-op, and ``record_many`` / ``import_epcis`` are one transaction each (all or
  nothing). A stamp's identity is its EPC (``Stamp.epc``); a ``code`` argument takes any text
  form [`antifake.verify`][antifake.verify.verify] takes (QR URL, bare code, GS1 URL, stamp number),
  a [`Stamp`][antifake.issue.Stamp], or an EPC URI (``urn:...``, a GS1 Digital Link); see
  [`Registry.resolve`][antifake.registry.Registry.resolve]. EPC URNs of registered GS1 stamps
  find the stamp through their canonical Digital Link, as in the CBV 2.0 hash.
* **Lifecycle.** A stamp is active, or decommissioned with a reason (``sold``, ``exported``,
  ``destroyed``, ``recalled``, ``stolen``, ``sample``). ``reactivate`` undoes a decommission
  within 10 days, never one for ``recalled``, ``stolen`` or ``destroyed`` (the EU FMD rules).
  Every change is an event, and the state is what the events say: decommissioning,
  reactivation and claim events recorded or imported from elsewhere update it too (an event
  older than the current state is history and changes nothing; an imported reactivation the
  rules forbid is refused with [`LifecycleError`][antifake.errors.LifecycleError]).
* **Claims.** The first buyer claims a stamp with its scratch-off PIN (checked in constant time
  with the issuer's secret key). The first correct claim wins; later claims, even with the
  right PIN, get ``ALREADY_CLAIMED``; ``MAX_WRONG_PINS`` wrong PINs lock the claim for good (the
  PIN is then no longer checked at all, so a locked stamp is no oracle); a mistyped PIN (its
  check character does not match) is reported and not counted. Every attempt is an event
  (``af:claim`` = ``ok``, ``wrong_pin``, ``locked``, ``already_claimed``, ``mistyped``,
  ``inactive`` or ``refused``; ``af:attempt`` numbers the attempts on the stamp, so that two
  identical attempts in one millisecond are two events and both count). The read-check-write
  runs in one ``BEGIN IMMEDIATE`` transaction: concurrent claims, from threads or processes,
  have exactly one winner.
"""

from antifake.registry._registry import Registry
from antifake.registry._results import ClaimResult, ImportResult, StampStatus
from antifake.registry._rules import (
    CLONE_KINDS,
    COMMISSION_CHUNK,
    MAX_WRONG_PINS,
    NEVER_REACTIVATED,
    REASONS,
    UNDO_WINDOW,
)

__all__ = [
    "Registry",
    "ImportResult",
    "StampStatus",
    "ClaimResult",
    "REASONS",
    "NEVER_REACTIVATED",
    "UNDO_WINDOW",
    "MAX_WRONG_PINS",
    "COMMISSION_CHUNK",
    "CLONE_KINDS",
]
