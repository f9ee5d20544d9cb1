"""The keyring: the issuer keys a verifier trusts (several issuers, several keys each), their
revocation times, the signed batch manifests it holds and when it first saw each of them; the
keyring file that keeps all of that across restarts."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from antifake._atomic import read_limited
from antifake.codes import short_key_id
from antifake.errors import (
    AntifakeError,
    KeyringError,
    ManifestConflict,
    ManifestError,
    UnprovenManifest,
)
from antifake.keys import IssuerKey, IssuerPublicKey, _write_private
from antifake.manifest import Manifest
from antifake.timeutil import parse_time, to_iso

__all__ = ["KeyState", "Keyring", "Clock", "ExistenceVerifier"]


#: Largest keyring file read (its manifests included).
MAX_KEYRING_FILE = 1 << 31
KEYRING_FORMAT = "antifake-keyring"

#: The clock a keyring reads (UTC now); tests and replays inject their own.
Clock = Callable[[], datetime]
#: Checks a proof that a manifest existed at some time (e.g. a transparency-log inclusion
#: proof under a signed checkpoint): returns that time, or raises / returns None when the
#: proof does not hold for this manifest. It must check the proof against something the
#: verifier trusts (the log's public key), never against what the proof says about itself.
ExistenceVerifier = Callable[[Manifest, Any], "datetime | None"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class KeyState:
    """A trusted key in a keyring, with its revocation time and manifests.

    ``first_seen[batch_id]`` is when this keyring first held the batch's manifest, by the
    keyring's own clock (or the time a proof of existence established), never the
    manifest's own ``issued_at``: revocation and expiry are judged on it."""

    public: IssuerPublicKey
    secret: IssuerKey | None = None
    revoked_at: datetime | None = None
    manifests: dict[int, Manifest] = field(default_factory=dict)
    first_seen: dict[int, datetime] = field(default_factory=dict)

    def may_issue_at(self, t: datetime) -> bool:
        """True when a manifest first seen at ``t`` is acceptable: before the revocation and
        no later than the end of the key's validity window."""
        if self.revoked_at is not None and t >= self.revoked_at:
            return False
        return self.public.valid_until is None or t <= self.public.valid_until


class Keyring:
    """The keys a verifier trusts: several issuers, several keys per issuer.

    Public keys verify QR codes; adding an [`IssuerKey`][antifake.keys.IssuerKey] (the issuer's own
    service) also enables stamp-number tags and PIN checks. Two secret keys whose 5-bit short ids
    clash are refused, because a stamp number carries only the short id.

    **Revocation is a property of what the keyring held.** The keyring records when it first
    saw each manifest (``clock``, default the system clock in UTC). After
    `revoke(key_id, at=R)`, a stamp of that key is AUTHENTIC only through a manifest first seen
    before ``R``; a manifest arriving later is refused
    ([`UnprovenManifest`][antifake.errors.UnprovenManifest]) unless ``proof`` shows that it
    existed before ``R`` (checked by ``existence_verifier``, e.g. a transparency log's
    inclusion proof at a checkpoint signed before ``R``). The same holds for a key past its
    ``valid_until``. A manifest for a batch already held is refused unless byte-identical
    ([`ManifestConflict`][antifake.errors.ManifestConflict]). Keep a keyring across restarts
    with [`save`][antifake.trust.Keyring.save] / [`load`][antifake.trust.Keyring.load]: a
    keyring rebuilt from scratch after a revocation holds nothing from before it.
    """

    def __init__(self, keys: Iterable[IssuerPublicKey | IssuerKey] = (), *,
                 clock: Clock | None = None,
                 existence_verifier: ExistenceVerifier | None = None) -> None:
        self._states: list[KeyState] = []
        self._by_id: dict[int, list[KeyState]] = {}
        self._by_short: dict[int, KeyState] = {}
        self._clock: Clock = clock or _utc_now
        self.existence_verifier = existence_verifier
        self.version = 0  # bumped on every change; bulk verifiers cache their tables on it
        for k in keys:
            self.add(k)

    def __repr__(self) -> str:
        return f"Keyring({len(self._states)} keys, {len(self._by_short)} with secrets)"

    def __len__(self) -> int:
        return len(self._states)

    def now(self) -> datetime:
        """The keyring's clock (aware UTC)."""
        t = self._clock()
        if not isinstance(t, datetime) or t.tzinfo is None:
            raise KeyringError("the keyring's clock must return an aware datetime")
        return t

    def states(self) -> list[KeyState]:
        return list(self._states)

    def add(self, key: IssuerPublicKey | IssuerKey) -> None:
        """Trust a public key, or a secret key (which also enables numbers and PINs).

        Adding a key the keyring already holds (the same Ed25519 public key) updates it:

        * its validity window (``valid_from``, ``valid_until``) becomes the one of the key
          added last, so an issuer's republished key takes effect, whether it shortens the
          window (the usual case: a key retired early) or changes it otherwise;
        * its revocation is kept as it is: a re-add never clears ``revoked_at`` nor moves it
          later, whatever the new window says; only `revoke` changes it;
        * its manifests are kept, and a secret key, once added, stays (adding the public half
          again does not remove it);
        * the issuer name must be the same: the same public key under another issuer name is
          refused with `KeyringError`.
        """
        secret = key if isinstance(key, IssuerKey) else None
        pub = key.public if isinstance(key, IssuerKey) else key
        if not isinstance(pub, IssuerPublicKey):
            raise KeyringError(f"expected IssuerKey or IssuerPublicKey, got {type(key).__name__}")
        state = None
        for st in self._by_id.get(pub.key_id, []):
            if st.public.public_key == pub.public_key:
                if st.public.issuer != pub.issuer:
                    raise KeyringError(
                        f"key {pub.fingerprint} with key_id {pub.key_id} is already trusted as "
                        f"issuer {st.public.issuer}, not {pub.issuer}")
                state = st
            elif st.public.issuer == pub.issuer:
                raise KeyringError(
                    f"issuer {pub.issuer} already has a different key with key_id {pub.key_id}")
        if secret is not None:
            other = self._by_short.get(secret.short_id)
            if other is not None and other.public.public_key != pub.public_key:
                raise KeyringError(
                    f"key_id {pub.key_id} clashes with key_id {other.public.key_id} in stamp "
                    f"numbers (short id {secret.short_id}); generate the new key with another "
                    "key_id")
        if state is None:
            state = KeyState(pub)
            self._states.append(state)
            self._by_id.setdefault(pub.key_id, []).append(state)
        else:
            state.public = pub  # the latest window; revoked_at and manifests stay as they are
        if secret is not None:
            state.secret = secret
            self._by_short[secret.short_id] = state
        self.version += 1

    def candidates(self, key_id: int) -> list[KeyState]:
        """Trusted keys with this key id (usually one; issuers may collide)."""
        return self._by_id.get(key_id, [])

    def by_short_id(self, short_id: int) -> KeyState | None:
        """The secret key whose short id this is, if the keyring holds one."""
        return self._by_short.get(short_id)

    def has_public_short_id(self, short_id: int) -> bool:
        return any(short_key_id(st.public.key_id) == short_id for st in self._states)

    def revoke(self, key_id: int, at: datetime | str | None = None, *,
               issuer: str | None = None) -> None:
        """Revoke a key from time ``at`` (default: the keyring's clock now). Stamps stay
        valid only through manifests this keyring held before ``at`` (see the class
        documentation); every other stamp of the key is reported ``KEY_REVOKED``. A key
        revoked already keeps the earlier of the two times: a revocation is never weakened."""
        t = parse_time(at) if at is not None else self.now()
        found = [st for st in self._by_id.get(key_id, [])
                 if issuer is None or st.public.issuer == issuer]
        if not found:
            raise KeyringError(f"no key with key_id {key_id} in this keyring")
        if len(found) > 1:
            raise KeyringError(f"several issuers use key_id {key_id}: name the issuer")
        st = found[0]
        if st.revoked_at is None or t < st.revoked_at:
            st.revoked_at = t
            self.version += 1

    def add_manifest(self, manifest: Manifest, *, proof: Any = None) -> None:
        """Hold a batch manifest after checking its signature against a trusted key.

        Adding the byte-identical manifest again does nothing. Refused with a typed
        [`ManifestError`][antifake.errors.ManifestError]: a manifest not signed by a trusted key;
        [`ManifestConflict`][antifake.errors.ManifestConflict]: another manifest is held for the
        batch; [`UnprovenManifest`][antifake.errors.UnprovenManifest]: the key is revoked or past
        its window now and no ``proof`` (checked by the keyring's ``existence_verifier``) shows
        the manifest existed while the key could issue. With a valid proof the proven time is
        recorded as the manifest's first-seen time."""
        for st in self._by_id.get(manifest.key_id, []):
            if not manifest.verify_signature(st.public):
                continue
            held = st.manifests.get(manifest.batch_id)
            if held is not None:
                if held is manifest or held.to_bytes() == manifest.to_bytes():
                    return
                raise ManifestConflict(
                    f"a different manifest of batch {manifest.batch_id} of key "
                    f"{manifest.key_id} is already held: manifests are never replaced (two "
                    "signed manifests for one batch mean the key was used by someone else)")
            seen = self.now()
            if not st.may_issue_at(seen):
                proven = self._proven_time(manifest, proof)
                if proven is None or not st.may_issue_at(proven):
                    why = ("revoked" if st.revoked_at is not None and seen >= st.revoked_at
                           else "past its validity window")
                    raise UnprovenManifest(
                        f"key {manifest.key_id} is {why}: the manifest of batch "
                        f"{manifest.batch_id} is accepted only with proof that it existed "
                        "before then (or from a keyring saved before then)")
                seen = proven
            st.manifests[manifest.batch_id] = manifest
            st.first_seen[manifest.batch_id] = seen
            self.version += 1
            return
        raise ManifestError(
            f"manifest of batch {manifest.batch_id} is not signed by a trusted key "
            f"with key_id {manifest.key_id}")

    def _proven_time(self, manifest: Manifest, proof: Any) -> datetime | None:
        if proof is None or self.existence_verifier is None:
            return None
        try:
            t = self.existence_verifier(manifest, proof)
        except Exception:  # noqa: BLE001 - any failure of a proof is a missing proof
            return None
        return t if isinstance(t, datetime) and t.tzinfo is not None else None

    # -- keyring files ------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """The keyring file: public keys, revocation times, manifests with their first-seen
        times (JSON, no secret key; secret keys live in their own key files)."""
        keys = []
        for st in self._states:
            mans = [{"first_seen": to_iso(st.first_seen[b]) if b in st.first_seen else None,
                     "manifest": base64.b64encode(st.manifests[b].to_bytes()).decode()}
                    for b in sorted(st.manifests)]
            keys.append({"public": st.public.to_dict(),
                         "revoked_at": to_iso(st.revoked_at) if st.revoked_at else None,
                         "manifests": mans})
        return json.dumps({"format": KEYRING_FORMAT, "version": 1, "keys": keys},
                          separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes, *, clock: Clock | None = None,
                   existence_verifier: ExistenceVerifier | None = None) -> Keyring:
        """Parse [`to_bytes`][antifake.trust.Keyring.to_bytes] output (every manifest's signature
        is checked again); [`KeyringError`][antifake.errors.KeyringError] when malformed."""
        try:
            d = json.loads(data)
        except (ValueError, TypeError, RecursionError):
            raise KeyringError("not a keyring file (not JSON)") from None
        if not isinstance(d, dict) or d.get("format") != KEYRING_FORMAT:
            raise KeyringError("not an antifake keyring file")
        if d.get("version") != 1:
            raise KeyringError(f"unsupported keyring file version {d.get('version')!r}")
        ring = cls(clock=clock, existence_verifier=existence_verifier)
        try:
            for k in d["keys"]:
                pub = IssuerPublicKey.from_dict(k["public"])
                ring.add(pub)
                st = next(s for s in ring._by_id[pub.key_id]
                          if s.public.public_key == pub.public_key)
                for entry in k["manifests"]:
                    m = Manifest.from_bytes(base64.b64decode(entry["manifest"], validate=True))
                    if not m.verify_signature(pub):
                        raise KeyringError(f"a manifest of key {pub.key_id} does not verify")
                    if m.batch_id in st.manifests:
                        raise KeyringError(f"batch {m.batch_id} of key {pub.key_id} twice")
                    st.manifests[m.batch_id] = m
                    if entry["first_seen"] is not None:
                        st.first_seen[m.batch_id] = parse_time(entry["first_seen"])
                if k["revoked_at"] is not None:
                    st.revoked_at = parse_time(k["revoked_at"])
        except KeyringError:
            raise
        except (AntifakeError, KeyError, TypeError, ValueError, AttributeError,
                StopIteration) as exc:
            raise KeyringError(f"malformed keyring file ({type(exc).__name__})") from None
        ring.version += 1
        return ring

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the keyring file atomically (mode 0600: it decides what verifies)."""
        _write_private(Path(path), self.to_bytes())

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, clock: Clock | None = None,
             existence_verifier: ExistenceVerifier | None = None) -> Keyring:
        """Read a keyring file written by [`save`][antifake.trust.Keyring.save]."""
        data = read_limited(path, MAX_KEYRING_FILE, "keyring file", KeyringError)
        return cls.from_bytes(data, clock=clock, existence_verifier=existence_verifier)
