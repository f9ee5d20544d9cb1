"""antifake: anti-counterfeit electronic stamps.

Issue signed stamp codes (QR URL, stamp number, scratch-off PIN) by the million, verify them
offline or in bulk, and trace every stamp's life to catch copies and diverted goods.
"""

from antifake import log, qr
from antifake._version import __version__
from antifake.codes import GS1Attributes
from antifake.detect import (
    Alert,
    DetectConfig,
    DetectError,
    Detector,
    ListingCheck,
    TraceData,
    check_listing,
    check_listings,
    detect,
)
from antifake.epcis.event_hash import event_hash
from antifake.epcis.events import Event
from antifake.errors import (
    AntifakeError,
    EPCISError,
    FormatError,
    GS1Error,
    InputTooLarge,
    InvalidKey,
    IssueError,
    KeyFileError,
    KeyringError,
    LifecycleError,
    LogError,
    ManifestConflict,
    ManifestError,
    RegistryError,
    UnknownStampError,
    UnprovenManifest,
    WrongPassphrase,
)
from antifake.evidence import verify_evidence
from antifake.graph import Recall, TraceGraph
from antifake.issue import Batch, IssueStream, Product, Stamp, issue, issue_iter
from antifake.keys import IssuerKey, IssuerPublicKey
from antifake.log.note import LogKey
from antifake.manifest import Manifest
from antifake.registry import ClaimResult, ImportResult, Registry, StampStatus
from antifake.trust import Keyring
from antifake.verify import Status, Verdict, VerifyResult, verify, verify_many, verify_pin

__all__ = [
    "__version__",
    "qr",
    "log",
    "Alert",
    "AntifakeError",
    "Batch",
    "ClaimResult",
    "DetectConfig",
    "DetectError",
    "Detector",
    "EPCISError",
    "Event",
    "FormatError",
    "GS1Attributes",
    "GS1Error",
    "ImportResult",
    "InputTooLarge",
    "InvalidKey",
    "IssueError",
    "IssueStream",
    "IssuerKey",
    "IssuerPublicKey",
    "KeyFileError",
    "Keyring",
    "KeyringError",
    "LifecycleError",
    "LogError",
    "LogKey",
    "ListingCheck",
    "Manifest",
    "ManifestConflict",
    "ManifestError",
    "Product",
    "Recall",
    "Registry",
    "RegistryError",
    "Stamp",
    "StampStatus",
    "Status",
    "TraceData",
    "TraceGraph",
    "UnknownStampError",
    "UnprovenManifest",
    "Verdict",
    "VerifyResult",
    "WrongPassphrase",
    "check_listing",
    "check_listings",
    "detect",
    "event_hash",
    "issue",
    "issue_iter",
    "verify",
    "verify_many",
    "verify_pin",
    "verify_evidence",
]
