"""The antifake exception tree.

Every error antifake raises on purpose derives from
[`AntifakeError`][antifake.errors.AntifakeError], so callers can catch one class. Messages never
contain secret key material.
"""

from __future__ import annotations

__all__ = [
    "AntifakeError",
    "FormatError",
    "InvalidKey",
    "KeyFileError",
    "WrongPassphrase",
    "KeyringError",
    "ManifestError",
    "ManifestConflict",
    "UnprovenManifest",
    "InputTooLarge",
    "IssueError",
    "GS1Error",
    "EPCISError",
    "RegistryError",
    "LifecycleError",
    "UnknownStampError",
    "SelfTestError",
    "LogError",
]


class AntifakeError(Exception):
    """Root of every exception raised by antifake."""


class FormatError(AntifakeError, ValueError):
    """Text or bytes that do not follow an antifake or GS1 format."""


class InvalidKey(AntifakeError, ValueError):
    """A key is invalid, of the wrong kind, or used outside what it allows."""


class KeyFileError(InvalidKey):
    """A key file is missing, corrupted, of an unknown version, or unreadable."""


class WrongPassphrase(KeyFileError):
    """A sealed key file did not open with the passphrase given."""


class KeyringError(InvalidKey):
    """A keyring operation is refused (duplicate or clashing key ids, unknown key)."""


class ManifestError(AntifakeError, ValueError):
    """A batch manifest is malformed, tampered with, or signed by an untrusted key."""


class ManifestConflict(ManifestError):
    """The keyring already holds a different manifest for this key and batch (manifests are
    never replaced: a second one for a batch means the key was used by someone else)."""


class UnprovenManifest(ManifestError):
    """A manifest reached the keyring after its key was revoked or its validity window ended,
    without proof that it existed before then."""


class InputTooLarge(FormatError):
    """An input (file, string, number) is larger than antifake accepts for its kind."""


class IssueError(AntifakeError, ValueError):
    """Issuance was asked for something impossible (size, batch id, product attributes)."""


class GS1Error(FormatError):
    """A GS1 identifier (GTIN, Digital Link, EPC URI, element string) is invalid."""


class EPCISError(FormatError):
    """An EPCIS document or event is malformed; ``path`` names the JSON location of the fault."""

    def __init__(self, message: str, path: str = "$") -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.detail = message


class RegistryError(AntifakeError):
    """The registry refused an operation or its storage is unusable."""


class LifecycleError(RegistryError, ValueError):
    """A lifecycle transition that the rules forbid (e.g. undo after 10 days)."""


class UnknownStampError(RegistryError, LookupError):
    """The registry holds no stamp for this code."""


class SelfTestError(AntifakeError, RuntimeError):
    """A native kernel disagreed with its reference implementation at import."""


class LogError(AntifakeError, ValueError):
    """A transparency-log object (checkpoint, signed note, verifier key, proof, evidence
    bundle) is malformed or does not verify."""
