"""The keyring: the issuer keys a verifier trusts (several issuers, several keys each), their
revocation times, and the signed batch manifests it holds."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from antifake.codes import short_key_id
from antifake.errors import KeyringError, ManifestError
from antifake.keys import IssuerKey, IssuerPublicKey
from antifake.manifest import Manifest
from antifake.timeutil import parse_time

__all__ = ["KeyState", "Keyring"]


@dataclass(slots=True)
class KeyState:
    """A trusted key in a keyring, with its revocation time and manifests."""

    public: IssuerPublicKey
    secret: IssuerKey | None = None
    revoked_at: datetime | None = None
    manifests: dict[int, Manifest] = field(default_factory=dict)


class Keyring:
    """The keys a verifier trusts: several issuers, several keys per issuer.

    Public keys verify QR codes; adding an [`IssuerKey`][antifake.keys.IssuerKey] (the issuer's own
    service) also enables stamp-number tags and PIN checks. Two secret keys whose 5-bit short ids
    clash are refused, because a stamp number carries only the short id.
    """

    def __init__(self, keys: Iterable[IssuerPublicKey | IssuerKey] = ()) -> None:
        self._states: list[KeyState] = []
        self._by_id: dict[int, list[KeyState]] = {}
        self._by_short: dict[int, KeyState] = {}
        self.version = 0  # bumped on every change; bulk verifiers cache their tables on it
        for k in keys:
            self.add(k)

    def __repr__(self) -> str:
        return f"Keyring({len(self._states)} keys, {len(self._by_short)} with secrets)"

    def __len__(self) -> int:
        return len(self._states)

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
        """Revoke a key from time ``at`` (default now): stamps of batches whose manifests were
        signed before ``at`` stay valid, all others are reported ``KEY_REVOKED``. A key
        revoked already keeps the earlier of the two times: a revocation is never weakened."""
        t = parse_time(at) if at is not None else datetime.now(UTC)
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

    def add_manifest(self, manifest: Manifest) -> None:
        """Hold a batch manifest after checking its signature against a trusted key."""
        for st in self._by_id.get(manifest.key_id, []):
            if manifest.verify_signature(st.public):
                st.manifests[manifest.batch_id] = manifest
                self.version += 1
                return
        raise ManifestError(
            f"manifest of batch {manifest.batch_id} is not signed by a trusted key "
            f"with key_id {manifest.key_id}")
