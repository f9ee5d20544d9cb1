"""Issuance: [`issue`][antifake.issue.issue] signs a batch of stamps;
[`Batch`][antifake.issue.Batch] renders and stores it.

Everything per stamp is a numpy array (serials, signatures); text forms are produced in bulk by
the kernels in `antifake._core`. A [`Stamp`][antifake.issue.Stamp] is a light view of one row.
"""

from __future__ import annotations

import os
import secrets
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import blake3
import numpy as np
import numpy.typing as npt

import antifake._core as _core
from antifake import codes as C
from antifake._sodium import native_ed25519
from antifake.errors import FormatError, GS1Error, InvalidKey, IssueError
from antifake.keys import IssuerKey
from antifake.manifest import FINGERPRINT_KEY, Manifest
from antifake.timeutil import parse_time, to_iso

__all__ = ["Product", "Stamp", "Batch", "issue", "issue_iter", "stamp_epc", "check_base_url"]

MAX_BATCH = C.MAX_INDEX + 1
GS1_RESOLVER = "https://id.gs1.org"


@dataclass(frozen=True, slots=True, init=False)
class Product:
    """GS1 product attributes printed (and signed) in every stamp's URL, checked when made.

    ``gtin`` is a GTIN-8, -12, -13 or -14 (kept as its 14-digit form); ``lot`` is a batch/lot
    number GS1 allows in AI 10 (1 to 20 characters of its character set 82); ``expiry`` is a
    `datetime.date`, ``"YYYY-MM-DD"``, ``"YYYY-MM"`` (the end of that month) or AI 17
    ``"YYMMDD"``, and is kept as a `datetime.date`. A wrong check digit, a lot GS1 refuses or an
    impossible date raises [`GS1Error`][antifake.errors.GS1Error] here, naming the input, the
    rule it breaks and the fix.
    """

    gtin: str
    lot: str | None
    expiry: date | None
    expiry_ai17: str | None = field(repr=False, compare=False)

    def __init__(self, gtin: str, lot: str | None = None,
                 expiry: date | str | None = None) -> None:
        from antifake import gs1

        try:
            g = gs1.validate_gtin(gtin)
        except GS1Error as exc:
            raise GS1Error(f"Product(gtin={_show(gtin)}): {exc}; give the GTIN as printed "
                           "under the barcode (8, 12, 13 or 14 digits)") from None
        try:
            lt = gs1.validate_lot(lot) if lot is not None else None
        except GS1Error as exc:
            raise GS1Error(f"Product(lot={_show(lot)}): {exc}; use 1 to 20 letters, digits or "
                           "GS1 punctuation, or leave the lot out") from None
        ai17 = None
        if expiry is not None:
            try:
                ai17 = gs1.expiry_to_ai17(expiry)
            except GS1Error as exc:
                raise GS1Error(f"Product(expiry={_show(expiry)}): {exc}; give a real date such "
                               "as '2027-12-31' or datetime.date(2027, 12, 31)") from None
        object.__setattr__(self, "gtin", g)
        object.__setattr__(self, "lot", lt)
        object.__setattr__(self, "expiry", gs1.ai17_to_date(ai17) if ai17 else None)
        object.__setattr__(self, "expiry_ai17", ai17)

    def to_gs1(self) -> C.GS1Attributes:
        """The attributes as signed into stamps (GTIN-14, AI 17 expiry text)."""
        return C.GS1Attributes(self.gtin, self.lot, self.expiry_ai17)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_base_url(base: str) -> str:
    """A resolver base URL without trailing slash; refuses queries, fragments, spaces."""
    if not isinstance(base, str) or not base:
        raise FormatError("base URL must be a non-empty string")
    b = base.rstrip("/")
    if any(c in b for c in "?#% \t\r\n\x00") or not b.isascii():
        raise FormatError(f"base URL {base!r:.60} may not contain '?', '#', '%', spaces or "
                          "non-ASCII characters")
    if "://" not in b:
        raise FormatError("base URL needs a scheme, e.g. https://verify.example")
    return b


def stamp_epc(issuer: str, key_id: int, batch_id: int, index: int,
              gtin: str | None = None, serial: int | None = None) -> str:
    """The EPC identifier of a stamp: a GS1 Digital Link URI when it has a GTIN (AI 21 =
    serial in 13 base32 symbols), else ``urn:antifake:stamp:{issuer}:{key_id}:{batch}:{index}``."""
    if gtin is not None and serial is not None:
        return f"{GS1_RESOLVER}/01/{gtin}/21/{C.b32encode(serial.to_bytes(8, 'big'), 13)}"
    return f"urn:antifake:stamp:{issuer}:{key_id}:{batch_id}:{index}"


@dataclass(frozen=True, slots=True)
class Stamp:
    """One stamp. ``serial`` and ``signature`` are None when it was read from a stamp number."""

    issuer: str
    key_id: int
    batch_id: int
    index: int
    serial: int | None = None
    signature: bytes | None = field(default=None, repr=False)
    product: C.GS1Attributes | None = None
    number: str | None = None

    @property
    def epc(self) -> str:
        gtin = self.product.gtin if self.product is not None else None
        return stamp_epc(self.issuer, self.key_id, self.batch_id, self.index, gtin, self.serial)

    @property
    def body(self) -> bytes:
        if self.serial is None:
            raise FormatError("this stamp was read from a number: its serial is unknown")
        return C.pack_body(self.key_id, self.batch_id, self.index, self.serial)

    @property
    def code(self) -> str:
        """The 129-symbol code (plain form)."""
        if self.signature is None:
            raise FormatError("this stamp was read from a number: it has no signature")
        return C.encode_code(self.body, self.signature)

    def url(self, base: str) -> str:
        """The QR payload: Digital Link form when the stamp carries GS1 attributes."""
        b = check_base_url(base)
        if self.signature is None:
            raise FormatError("this stamp was read from a number: it has no signature")
        if self.product is not None:
            return C.encode_gs1_url(b, self.body, self.signature, self.product)
        return f"{b}/{self.code}"


class Batch:
    """A signed batch of stamps of one key. Rows are stamps; index = row number."""

    def __init__(self, *, issuer: str, key_id: int, batch_id: int,
                 serials: npt.NDArray[np.uint64], signatures: npt.NDArray[np.uint8],
                 product: C.GS1Attributes | None, issued_at: datetime, manifest: Manifest,
                 key: IssuerKey | None = None, index_offset: int = 0) -> None:
        if serials.ndim != 1 or signatures.shape != (serials.shape[0], 64):
            raise IssueError("serials (n,) and signatures (n, 64) must align")
        self.issuer = issuer
        self.key_id = key_id
        self.batch_id = batch_id
        self.serials = serials
        self.signatures = signatures
        self.product = product
        self.issued_at = issued_at
        self.manifest = manifest
        self._key = key
        self.index_offset = index_offset

    def __repr__(self) -> str:
        return (f"Batch(issuer={self.issuer!r}, key_id={self.key_id}, batch_id={self.batch_id}, "
                f"n={len(self)}, product={self.product})")

    def __len__(self) -> int:
        return int(self.serials.shape[0])

    def __getitem__(self, i: int) -> Stamp:
        n = len(self)
        if not isinstance(i, int | np.integer):
            raise TypeError("Batch indices are integers")
        j = int(i) + n if i < 0 else int(i)
        if not 0 <= j < n:
            raise IndexError(f"stamp index {i} out of range for a batch of {n}")
        idx = j + self.index_offset
        number = None
        if self._key is not None:
            tag = blake3.blake3(C.tag_message(self.key_id, self.batch_id, idx),
                                key=self._key.tag_key()).digest(5)
            number = C.format_number(C.encode_number(self.key_id, self.batch_id, idx, tag))
        return Stamp(self.issuer, self.key_id, self.batch_id, idx, int(self.serials[j]),
                     self.signatures[j].tobytes(), self.product, number)

    def __iter__(self) -> Iterator[Stamp]:
        return (self[i] for i in range(len(self)))

    def bodies(self) -> npt.NDArray[np.uint8]:
        """(n, 16) stamp bodies."""
        return _core.make_bodies(self.key_id, self.batch_id, self.index_offset, self.serials)

    def codes(self, threads: int | None = None) -> npt.NDArray[np.bytes_]:
        """The 129-symbol codes as an "S129" array."""
        return _core.encode_codes(self.bodies(), self.signatures, C.FORMAT_VERSION, threads)

    def epcs(self) -> npt.NDArray[np.object_]:
        """EPC identifiers of every stamp (object array of str)."""
        if self.product is None:
            pre = f"urn:antifake:stamp:{self.issuer}:{self.key_id}:{self.batch_id}:"
            first = self.index_offset
            return np.array([pre + str(i) for i in range(first, first + len(self))],
                            dtype=object)
        pre = f"{GS1_RESOLVER}/01/{self.product.gtin}/21/"
        return _core.to_str_array(_serial_symbols(self.serials), pre)

    def urls(self, base: str, threads: int | None = None) -> npt.NDArray[np.object_]:
        """QR payloads (object array of str).

        Built in slices of 65,536 stamps, so that beside the result only one slice's
        temporaries are held (1 M URLs: about 220 MB of str objects, see docs/performance.md).
        """
        b = check_base_url(base)
        n = len(self)
        out = np.empty(n, dtype=object)
        if self.product is None:
            for a in range(0, n, _URL_SLICE):
                z = min(a + _URL_SLICE, n)
                out[a:z] = _core.to_str_array(self._codes_of(a, z, threads), b + "/")
            return out
        p = self.product
        pre = f"{b}/01/{p.gtin}" + (f"/10/{_dl_escape(p.lot)}" if p.lot else "") + "/21/"
        mid = ((f"?17={p.expiry_ai17}&s=" if p.expiry_ai17 else "?s=")
               + C.ALPHABET[C.FORMAT_VERSION]).encode("ascii")
        w_ser, w_tail = C.SERIAL_LEN, C.GS1_TAIL_LEN - 1
        width = w_ser + len(mid) + w_tail
        for a in range(0, n, _URL_SLICE):
            z = min(a + _URL_SLICE, n)
            m = z - a
            raw = np.empty((m, 72), dtype=np.uint8)  # key_id | batch | index | signature
            raw[:, :8] = self._bodies_of(a, z)[:, :8]
            raw[:, 8:] = self.signatures[a:z]
            rows = np.empty((m, width), dtype=np.uint8)  # serial | ?17=...&s= version | tail
            rows[:, :w_ser] = _serial_symbols(self.serials[a:z]).view(np.uint8).reshape(m, w_ser)
            rows[:, w_ser:w_ser + len(mid)] = np.frombuffer(mid, dtype=np.uint8)
            tails = _core.b32_encode_rows(raw, threads)
            rows[:, w_ser + len(mid):] = tails.view(np.uint8).reshape(m, w_tail)
            out[a:z] = _core.to_str_array(rows.view(f"S{width}").reshape(m), pre)
        return out

    def _bodies_of(self, a: int, z: int) -> npt.NDArray[np.uint8]:
        return _core.make_bodies(self.key_id, self.batch_id, self.index_offset + a,
                                 np.ascontiguousarray(self.serials[a:z]))

    def _codes_of(self, a: int, z: int, threads: int | None) -> npt.NDArray[np.bytes_]:
        return _core.encode_codes(self._bodies_of(a, z),
                                  np.ascontiguousarray(self.signatures[a:z]),
                                  C.FORMAT_VERSION, threads)

    def _secret(self) -> IssuerKey:
        if self._key is None:
            raise InvalidKey("stamp numbers and PINs need the issuer's secret key: "
                             "Batch.load(path, key=...)")
        return self._key

    def numbers(self, grouped: bool = True, threads: int | None = None
                ) -> npt.NDArray[np.object_]:
        """Human stamp numbers (``XXXXX-XXXXX-XXXXX-XXXXX``), object array of str."""
        key = self._secret()
        msgs = _core.number_messages(C.TAG_DOMAIN[0], C.NUMBER_VERSION, self.key_id,
                                     self.batch_id, self.index_offset, len(self))
        tags = _core.keyed_tags(key.tag_key(), msgs, 5, threads)
        return _core.to_str_array(_core.encode_numbers(
            C.NUMBER_VERSION, self.key_id, self.batch_id, self.index_offset, tags, grouped,
            threads))

    def pins(self, grouped: bool = True, threads: int | None = None) -> npt.NDArray[np.object_]:
        """Scratch-off PINs (secret: only for the printer's file), object array of str."""
        key = self._secret()
        msgs = _core.number_messages(C.PIN_DOMAIN[0], C.NUMBER_VERSION, self.key_id,
                                     self.batch_id, self.index_offset, len(self))
        material = _core.keyed_tags(key.pin_key(), msgs, 5, threads)
        return _core.to_str_array(_core.encode_pins(material, grouped, threads))

    # -- files --------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write serials, signatures and the manifest to an ``.npz`` file (no secret)."""
        meta = {
            "format": "antifake-batch", "version": 1, "issuer": self.issuer,
            "key_id": self.key_id, "batch_id": self.batch_id, "issued_at": to_iso(self.issued_at),
            "gtin": self.product.gtin if self.product else "",
            "lot": (self.product.lot or "") if self.product else "",
            "expiry": (self.product.expiry_ai17 or "") if self.product else "",
        }
        import json

        np.savez(path, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
                 serials=self.serials, signatures=self.signatures,
                 manifest=np.frombuffer(self.manifest.to_bytes(), dtype=np.uint8))

    @classmethod
    def load(cls, path: str | os.PathLike[str], key: IssuerKey | None = None) -> Batch:
        """Read a batch written by [`save`][antifake.issue.Batch.save]; the manifest's signature is
        checked."""
        import json

        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(z["meta"].tobytes())
                serials = z["serials"].astype(np.uint64, copy=False)
                sigs = np.ascontiguousarray(z["signatures"], dtype=np.uint8)
                mbytes = z["manifest"].tobytes()
        except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise IssueError(f"cannot read batch file {path}: {type(exc).__name__}") from None
        if meta.get("format") != "antifake-batch":
            raise IssueError(f"{path} is not an antifake batch file")
        manifest = Manifest.from_bytes(mbytes)
        product = manifest.product
        batch = cls(issuer=meta["issuer"], key_id=int(meta["key_id"]),
                    batch_id=int(meta["batch_id"]), serials=serials, signatures=sigs,
                    product=product, issued_at=parse_time(meta["issued_at"]), manifest=manifest,
                    key=key)
        if key is not None and (key.key_id != batch.key_id or key.issuer != batch.issuer):
            raise InvalidKey("this key did not issue this batch")
        fps = _core.fingerprints(FINGERPRINT_KEY, batch.bodies(), sigs)
        if (manifest.key_id, manifest.batch_id, manifest.issuer) != (
                batch.key_id, batch.batch_id, batch.issuer) or not np.array_equal(
                fps, manifest.fingerprints):
            raise IssueError(f"{path}: stamps do not match the batch manifest (tampered?)")
        return batch


_URL_SLICE = 1 << 16  # stamps per slice when building URLs


def _dl_escape(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def _serial_symbols(serials: npt.NDArray[np.uint64]) -> npt.NDArray[np.bytes_]:
    """Serials as 13 right-aligned base32 symbols ("S13")."""
    alphabet = np.frombuffer(C.ALPHABET.encode(), dtype=np.uint8)
    out = np.empty((serials.shape[0], 13), dtype=np.uint8)
    s = serials.astype(np.uint64, copy=False)
    for k in range(13):
        out[:, k] = alphabet[((s >> np.uint64(5 * (12 - k))) & np.uint64(31)).astype(np.intp)]
    return out.view("S13").reshape(-1)


def random_serials(n: int) -> npt.NDArray[np.uint64]:
    """``n`` distinct uniformly random 64-bit serials from the OS CSPRNG."""
    serials = np.frombuffer(secrets.token_bytes(8 * n), dtype=np.uint64).copy()
    while True:
        order = np.argsort(serials, kind="stable")
        s = serials[order]
        dup = np.nonzero(s[1:] == s[:-1])[0]
        if dup.size == 0:
            return serials
        # astronomically rare: redraw the later copies and check again
        redo = order[dup + 1]
        serials[redo] = np.frombuffer(secrets.token_bytes(8 * redo.size), dtype=np.uint64)


def _sign_python(key: IssuerKey, prefix: bytes, bodies: npt.NDArray[np.uint8],
                 suffix: bytes) -> npt.NDArray[np.uint8]:
    out = np.empty((bodies.shape[0], 64), dtype=np.uint8)
    for i in range(bodies.shape[0]):
        out[i] = np.frombuffer(key.sign(prefix + bodies[i].tobytes() + suffix), dtype=np.uint8)
    return out


def _prepare(key: IssuerKey, n: int, product: Product | C.GS1Attributes | None,
             batch_id: int | None, at: datetime | str | None
             ) -> tuple[int, C.GS1Attributes | None, datetime]:
    if not isinstance(key, IssuerKey):
        raise InvalidKey("issuing needs an IssuerKey (a secret key), not "
                         f"{type(key).__name__}")
    if not isinstance(n, int | np.integer) or not 1 <= n <= MAX_BATCH:
        raise IssueError(f"a batch holds 1..{MAX_BATCH} stamps, asked for {n!r}")
    t = parse_time(at) if at is not None else datetime.now(UTC)
    if not key.public.valid_at(t):
        until = key.public.valid_until
        raise IssueError(f"key {key.key_id} may issue only from {to_iso(key.public.valid_from)}"
                         f" until {to_iso(until) if until else 'revoked'}; it is {to_iso(t)}")
    attrs = product.to_gs1() if isinstance(product, Product) else product
    if batch_id is None:
        bid = key.allocate_batch()
    elif isinstance(batch_id, int) and 0 <= batch_id <= C.MAX_BATCH_ID:
        bid = batch_id
    else:
        raise IssueError(f"batch_id must be in 0..{C.MAX_BATCH_ID}")
    return bid, attrs, t


def _sign(key: IssuerKey, bodies: npt.NDArray[np.uint8], attrs: C.GS1Attributes | None,
          threads: int | None) -> npt.NDArray[np.uint8]:
    prefix = C.SIGN_CONTEXT + bytes([C.FORMAT_VERSION, 1 if attrs else 0])
    suffix = attrs.signed_suffix() if attrs else b""
    if native_ed25519:
        return _core.ed25519_sign_many(key.secret_key_bytes(), prefix, bodies, suffix, threads)
    return _sign_python(key, prefix, bodies, suffix)


def issue(key: IssuerKey, n: int, *, product: Product | C.GS1Attributes | None = None,
          batch_id: int | None = None, threads: int | None = None,
          at: datetime | str | None = None) -> Batch:
    """Issue ``n`` signed stamps in a new batch of ``key`` (batch ids allocated in order).

    ``threads=None`` uses every core. Raises [`IssueError`][antifake.errors.IssueError] when the key
    may not issue at ``at`` (default now) or the request is out of range.
    """
    bid, attrs, t = _prepare(key, n, product, batch_id, at)
    serials = random_serials(int(n))
    bodies = _core.make_bodies(key.key_id, bid, 0, serials)
    sigs = _sign(key, bodies, attrs, threads)
    fps = _core.fingerprints(FINGERPRINT_KEY, bodies, sigs, threads)
    del bodies
    manifest = Manifest.build(key, bid, t, attrs, fps)
    return Batch(issuer=key.issuer, key_id=key.key_id, batch_id=bid, serials=serials,
                 signatures=sigs, product=attrs, issued_at=t, manifest=manifest, key=key)


class IssueStream:
    """Chunks of one batch, issued lazily (see [`issue_iter`][antifake.issue.issue_iter]).

    Iterating yields [`Batch`][antifake.issue.Batch] views holding ``chunk_size`` consecutive stamps
    each (their ``index_offset`` says where they start); the batch manifest is available as
    ``.manifest`` once the stream is exhausted. Peak memory is one chunk plus 24 bytes per stamp.
    """

    def __init__(self, key: IssuerKey, n: int, chunk_size: int,
                 product: Product | C.GS1Attributes | None, batch_id: int | None,
                 threads: int | None, at: datetime | str | None) -> None:
        if not isinstance(chunk_size, int) or chunk_size < 1:
            raise IssueError("chunk_size must be a positive integer")
        self.batch_id, self.product, self.issued_at = _prepare(key, n, product, batch_id, at)
        self.key, self.n, self.chunk_size, self.threads = key, int(n), chunk_size, threads
        self.manifest: Manifest | None = None

    def __iter__(self) -> Iterator[Batch]:
        serials = random_serials(self.n)  # 8 bytes per stamp: distinct across chunks
        fps = np.empty((self.n, 16), dtype=np.uint8)
        for start in range(0, self.n, self.chunk_size):
            stop = min(start + self.chunk_size, self.n)
            bodies = _core.make_bodies(self.key.key_id, self.batch_id, start, serials[start:stop])
            sigs = _sign(self.key, bodies, self.product, self.threads)
            fps[start:stop] = _core.fingerprints(FINGERPRINT_KEY, bodies, sigs, self.threads)
            yield _Chunk(self, start, serials[start:stop], sigs)
        self.manifest = Manifest.build(self.key, self.batch_id, self.issued_at, self.product,
                                       fps)


class _Chunk(Batch):
    """A slice of a streamed batch; its stamps start at ``index_offset``."""

    def __init__(self, stream: IssueStream, offset: int, serials: npt.NDArray[np.uint64],
                 sigs: npt.NDArray[np.uint8]) -> None:
        super().__init__(issuer=stream.key.issuer, key_id=stream.key.key_id,
                         batch_id=stream.batch_id, serials=serials, signatures=sigs,
                         product=stream.product, issued_at=stream.issued_at,
                         manifest=None,  # type: ignore[arg-type]
                         key=stream.key, index_offset=offset)

    def save(self, path: str | os.PathLike[str]) -> None:
        raise IssueError("a chunk has no manifest of its own: save the stream's manifest")


def issue_iter(key: IssuerKey, n: int, *, chunk_size: int = 100_000,
               product: Product | C.GS1Attributes | None = None, batch_id: int | None = None,
               threads: int | None = None, at: datetime | str | None = None) -> IssueStream:
    """Issue a batch in chunks, for batches whose text forms do not fit in memory at once."""
    return IssueStream(key, n, chunk_size, product, batch_id, threads, at)
