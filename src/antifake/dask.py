"""Work larger than one machine: verification and scan-log detection on a Dask cluster.

``pip install 'antifake[dask]'`` (``dask[distributed]``; reading scan logs needs pandas and
pyarrow). The same code runs on a laptop (``LocalCluster``) and on a multi-machine cluster
(``Client("tcp://scheduler:8786")``): pass ``client=`` or let the current client be found.

Verification
------------
`verify_many_dask` verifies a dask array (object dtype) or a dask dataframe column of
codes (QR URLs, bare codes, stamp numbers) partition by partition with
`antifake.verify_many` and returns the statuses, lazily, as a dask array / series of
``uint8`` (`antifake.Status` values): the same values ``verify_many`` gives. The
keyring travels once: its public keys, revocations and manifests are serialised
(`keyring_payload`), broadcast to every worker (``Client.scatter(..., broadcast=True)``)
and rebuilt once per worker process. Secret keys never leave the process (``IssuerKey``
refuses pickling): a keyring with secrets verifies on the workers as its public part does,
so stamp numbers come back ``UNVERIFIABLE`` there (a warning says so).

Detection over a scan log
-------------------------
`detect_scans_dask` runs the per-code rules of `antifake.detect` over a
partitioned scan log (Parquet via `read_scan_log`, or any dask dataframe with columns
``code, time, by, lat, lon, event_id``). The log is shuffled so that all scans of one code
share a partition (``DataFrame.shuffle(on="code")``): every rule about one code then runs
where its scans are. The supply chain the scans happened in (a registry, simulation or
``TraceData``: the *context*) is a graph snapshot broadcast once to the workers; each
partition takes from it the sub-graph its codes need (the codes, every container they were
ever packed in, and those nodes' events) and runs the real detection kernels on that plus its
scans. Rules over several codes at once (``diversion``: a delivery group seen outside its
regions) cannot be partitioned by code and are not run here: run `antifake.detect` on
the registry for them.

`detect_scans` is the single-process function (one partition holding every code): the
Dask result equals it, alert for alert, and equals `antifake.detect.detect` over
the context plus the same scans (per-code kinds, scanned codes; scans ordered by (time,
event id) after the context's events).
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from antifake.epcis.kinds import EventKind as _K
from antifake.errors import AntifakeError
from antifake.trust import Keyring

__all__ = [
    "PER_CODE_KINDS",
    "SCAN_COLUMNS",
    "DaskError",
    "code_buckets",
    "detect_scans",
    "detect_scans_dask",
    "keyring_from_payload",
    "keyring_payload",
    "read_scan_log",
    "scan_log_from_events",
    "verify_many_dask",
    "write_scan_log",
]

#: Columns of a scan log.
SCAN_COLUMNS = ("code", "time", "by", "lat", "lon", "event_id")
#: Rules that look at one code at a time (all but ``diversion``).
PER_CODE_KINDS = frozenset({"impossible_travel", "over_scanned", "unauthorized_seller",
                            "inactive_stamp_activity", "out_of_order", "claim_lockout",
                            "duplicate_listing"})

_CACHE: dict[str, Any] = {}  # per worker process: rebuilt keyrings and contexts by digest
_CACHE_LOCK = threading.Lock()
_CACHE_MAX = 4


class DaskError(AntifakeError, ValueError):
    """Dask was given something it cannot use."""


def _need_dask() -> Any:
    try:
        import dask
    except ImportError:  # pragma: no cover
        raise DaskError("antifake.dask needs dask: pip install 'antifake[dask]'") from None
    return dask


def _client(client: Any) -> Any:
    """The client given, else the current one (None: no distributed scheduler)."""
    if client is not None:
        return client
    try:
        from distributed import get_client

        return get_client()
    except (ImportError, ValueError):
        return None


def _cached(digest: str, build: Any) -> Any:
    with _CACHE_LOCK:
        hit = _CACHE.get(digest)
    if hit is not None:
        return hit
    value = build()
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[digest] = value
    return value


# ----------------------------------------------------------------------------------------
# keyrings on workers
# ----------------------------------------------------------------------------------------
def keyring_payload(ring: Keyring) -> bytes:
    """The public part of a keyring as bytes: public keys, revocation times, manifests with
    the times the keyring first saw them (the keyring file format, see `Keyring.to_bytes`)."""
    if not isinstance(ring, Keyring):
        raise DaskError(f"expected an antifake Keyring, not {type(ring).__name__}")
    return ring.to_bytes()


def keyring_from_payload(payload: bytes) -> Keyring:
    """Inverse of `keyring_payload` (manifest signatures are checked again, first-seen
    times kept, so a worker judges revocation exactly as the client); cached per process,
    so each worker builds it once."""
    digest = "ring:" + hashlib.blake2b(payload, digest_size=16).hexdigest()
    return _cached(digest, lambda: Keyring.from_bytes(payload))


def _verify_block(block: Any, payload: Any, threads: int) -> np.ndarray:
    from antifake.verify import verify_many

    ring = keyring_from_payload(payload)
    texts = np.asarray(block, dtype=object).ravel()
    return verify_many(texts, ring, threads=threads).status


def _verify_series(part: Any, payload: Any, threads: int) -> Any:
    import pandas as pd

    texts = part.to_numpy(dtype=object, na_value="")
    return pd.Series(_verify_block(texts, payload, threads), index=part.index, name=part.name,
                     dtype=np.uint8)


def _payload_handle(ring: Keyring, client: Any) -> Any:
    if any(st.secret is not None for st in ring.states()):
        warnings.warn("secret keys stay in this process: the workers verify with the "
                      "keyring's public keys (stamp numbers come back UNVERIFIABLE)",
                      stacklevel=3)
    payload = keyring_payload(ring)
    client = _client(client)
    if client is None:
        return payload
    return client.scatter(payload, broadcast=True, hash=False)


def verify_many_dask(codes: Any, ring: Keyring, *, client: Any = None, threads: int = 1
                     ) -> Any:
    """Verify a dask array or dask series of codes; returns a lazy dask array / series of
    ``uint8`` statuses, partition for partition (see the module documentation).

    ``threads``: native threads per partition (default 1: Dask runs partitions in
    parallel; give a worker's thread count when workers run one partition at a time)."""
    _need_dask()
    import dask.array as da

    handle = _payload_handle(ring, client)
    arr: Any = codes
    if isinstance(arr, da.Array):
        if arr.ndim != 1:
            raise DaskError("verify_many_dask takes a one-dimensional array of codes")
        blocks: Any = arr.map_blocks
        return blocks(_verify_block, handle, threads, dtype=np.uint8)
    dd: Any
    try:
        import dask.dataframe as dd
    except ImportError:  # pragma: no cover
        dd = None
    if dd is not None and isinstance(codes, dd.Series):
        return codes.map_partitions(_verify_series, handle, threads,
                                    meta=(codes.name, np.uint8))
    raise DaskError(f"expected a dask array or a dask dataframe column, not "
                    f"{type(codes).__name__}")


# ----------------------------------------------------------------------------------------
# scan logs
# ----------------------------------------------------------------------------------------
def read_scan_log(path: Any, *, by_code: bool = False, **options: Any) -> Any:
    """A scan log (Parquet: a file, a directory or a glob) as a dask dataframe with the
    columns of `SCAN_COLUMNS`.

    ``by_code=True`` reads a directory written by `write_scan_log`: one partition per
    code bucket (all scans of a code in one partition), which `detect_scans_dask` uses
    without a shuffle (``partitioned_by_code=True``)."""
    _need_dask()
    import dask.dataframe as dd

    if not by_code:
        return dd.read_parquet(path, columns=list(SCAN_COLUMNS), **options)
    import pandas as pd

    groups: dict[str, list[str]] = {}
    for f in sorted(Path(path).glob("bucket-*.parquet")):
        groups.setdefault(f.name.split("-")[1].split(".")[0], []).append(str(f))
    if not groups:
        raise DaskError(f"no bucket-*.parquet files in {path} (see write_scan_log)")
    files = list(groups.values())
    meta = pd.read_parquet(files[0][0], columns=list(SCAN_COLUMNS)).iloc[:0]
    return dd.from_map(_read_bucket, files, meta=meta)


def _read_bucket(files: list[str]) -> Any:
    import pandas as pd

    frames = [pd.read_parquet(f, columns=list(SCAN_COLUMNS)) for f in files]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def code_buckets(codes: Any, buckets: int) -> np.ndarray:
    """The bucket (0 .. buckets - 1) of each code: a stable hash of its text (the same in every
    process and version of pandas' ``hash_pandas_object``)."""
    import pandas as pd

    h = pd.util.hash_pandas_object(pd.Series(codes, dtype=object), index=False,
                                   hash_key="antifake-scans00").to_numpy()
    return (h % np.uint64(buckets)).astype(np.int64)


def write_scan_log(scans: Any, path: Any, *, buckets: int = 16, part: str = "0") -> None:
    """Append a pandas scan log to ``path`` partitioned by code: file
    ``bucket-KKKKK-<part>.parquet`` holds the scans of the codes of bucket K (see
    `code_buckets`). Write each batch with another ``part``; read the directory with
    ``read_scan_log(path, by_code=True)``."""
    _check_log(scans)
    if not isinstance(buckets, int) or buckets < 1:
        raise DaskError("buckets must be a positive integer")
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    b = code_buckets(scans["code"], buckets)
    order = np.argsort(b, kind="stable")
    bounds = np.searchsorted(b[order], np.arange(buckets + 1))
    frame = scans[list(SCAN_COLUMNS)]
    for k in range(buckets):
        rows = order[bounds[k]: bounds[k + 1]]
        if len(rows):
            frame.iloc[rows].to_parquet(root / f"bucket-{k:05d}-{part}.parquet", index=False)


def scan_log_from_events(data: Any) -> tuple[Any, Any]:
    """Split a `antifake.detect.TraceData` (or what `detect` takes) into
    a context without scans and a pandas scan log of its scans (one code each): for tests
    and for moving a registry's scans out to Parquet."""
    import pandas as pd

    from antifake.detect import TraceData, _as_data
    from antifake.epcis.kinds import EventKind

    d = _as_data(data)
    is_scan = d.ev_kind == int(EventKind.SCAN)
    n_inc = np.bincount(d.inc_event, minlength=d.n_events)
    is_scan &= n_inc == 1
    scan_idx = np.flatnonzero(is_scan)
    node_of = np.full(d.n_events, -1, dtype=np.int64)
    node_of[d.inc_event] = d.inc_node
    by = d.ev_by[scan_idx]
    log = pd.DataFrame({
        "code": pd.Series(d.epcs[node_of[scan_idx]], dtype=object),
        "time": d.ev_time[scan_idx].astype(np.int64),
        "by": pd.Series(np.where(by >= 0, d.parties[np.maximum(by, 0)], None), dtype=object),
        "lat": d.ev_lat[scan_idx], "lon": d.ev_lon[scan_idx],
        "event_id": pd.Series(d.ev_ids[scan_idx], dtype=object)})
    keep = np.flatnonzero(~is_scan)
    remap = np.full(d.n_events, -1, dtype=np.int64)
    remap[keep] = np.arange(len(keep))
    rows = ~is_scan[d.inc_event]
    g = d.graph
    ctx = TraceData.from_arrays(
        epcs=d.epcs, parties=d.parties, ev_ids=d.ev_ids[keep], ev_time=d.ev_time[keep],
        ev_kind=d.ev_kind[keep], ev_by=d.ev_by[keep], ev_src=d.ev_src[keep],
        ev_dst=d.ev_dst[keep], ev_lat=d.ev_lat[keep], ev_lon=d.ev_lon[keep],
        inc_event=remap[d.inc_event[rows]], inc_node=d.inc_node[rows],
        agg_parent=d.agg_parent[keep], node_key=g._node_key, node_batch=g._node_batch,
        ev_detail=d.ev_detail[keep], party_role=d.party_role, party_region=d.party_region,
        party_lat=d.party_lat, party_lon=d.party_lon, region_radius_km=d.region_radius_km)
    return ctx, log


class _Context:
    """A context snapshot's columns plus the indexes partitions need (built once per
    worker)."""

    def __init__(self, cols: dict[str, Any]) -> None:
        self.cols = cols
        epcs = cols["epcs"]
        self.index = {e: i for i, e in enumerate(epcs.tolist())}
        self.party_index = {p: i for i, p in enumerate(cols["parties"].tolist())}
        inc_e, inc_n = cols["inc_event"], cols["inc_node"]
        n_nodes = len(epcs)
        o = np.argsort(inc_n, kind="stable")
        self.by_node_row = o
        self.by_node_ev = inc_e[o]
        self.by_node_ptr = np.searchsorted(inc_n[o], np.arange(n_nodes + 1))
        par = cols["agg_parent"]
        agg = np.flatnonzero(par >= 0)
        po = agg[np.argsort(par[agg], kind="stable")]
        self.by_parent_ev = po
        self.by_parent_ptr = np.searchsorted(par[po], np.arange(n_nodes + 1))
        # (child, parent) of every aggregation row: containers a node was ever packed in
        is_agg = par[inc_e] >= 0
        ch, pa = inc_n[is_agg], par[inc_e[is_agg]]
        co = np.argsort(ch, kind="stable")
        self.up_parent = pa[co]
        self.up_ptr = np.searchsorted(ch[co], np.arange(n_nodes + 1))
        # regions (as detection derives them from the parties) and the context's own phone
        # counts: a phone's home is where most of its scans are, over the whole log
        from antifake.detect._data import _region_grid, _region_ids, _tier

        rid, self.region_names = _region_ids(np.asarray(cols["party_region"], dtype=object))
        self.regions = _region_grid(rid, np.asarray(cols["party_lat"], np.float64),
                                    np.asarray(cols["party_lon"], np.float64),
                                    float(cols["region_radius_km"]))
        self.consumer = np.fromiter((_tier(r) == 0 for r in cols["party_role"].tolist()),
                                    dtype=bool, count=len(cols["parties"]))
        by = np.asarray(cols["ev_by"])
        kind = np.asarray(cols["ev_kind"])
        obs = ((kind == int(_K.SCAN)) | (kind == int(_K.CLAIM))) & (by >= 0)
        obs[obs] &= self.consumer[by[obs]]
        e = np.flatnonzero(obs)
        self.ctx_counts = _pair_counts(cols["parties"][by[e]], self._regions_at(
            np.asarray(cols["ev_lat"])[e], np.asarray(cols["ev_lon"])[e]))

    def _regions_at(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        from antifake.detect._regions import regions_at

        return regions_at(self.regions, np.asarray(lat, np.float64),
                          np.asarray(lon, np.float64))

    def phone_counts(self, scans: Any) -> Any:
        """(phone, region id, scans) of a scan log's located scans by parties that are
        consumers (or unknown to the context)."""
        by = scans["by"].to_numpy(dtype=object)
        known = np.fromiter((self.party_index.get(b, -1) if isinstance(b, str) else -2
                             for b in by.tolist()), dtype=np.int64, count=len(by))
        ok = known == -1
        kn = np.flatnonzero(known >= 0)
        ok[kn] = self.consumer[known[kn]]
        return _pair_counts(by[ok], self._regions_at(scans["lat"].to_numpy(np.float64)[ok],
                                                     scans["lon"].to_numpy(np.float64)[ok]))

    def closure(self, nodes: np.ndarray) -> np.ndarray:
        """``nodes`` and every container any of them was ever packed in (transitively)."""
        seen = np.zeros(len(self.cols["epcs"]), dtype=bool)
        seen[nodes] = True
        frontier = np.unique(nodes)
        while len(frontier):
            up = _gather(self.up_parent, self.up_ptr, frontier)
            up = np.unique(up)
            up = up[~seen[up]]
            seen[up] = True
            frontier = up
        return np.flatnonzero(seen)

    def events_of(self, nodes: np.ndarray) -> np.ndarray:
        a = _gather(self.by_node_ev, self.by_node_ptr, nodes)
        b = _gather(self.by_parent_ev, self.by_parent_ptr, nodes)
        return np.unique(np.concatenate([a, b]))


def _pair_counts(by: np.ndarray, region: np.ndarray) -> Any:
    """A frame of (by, region, n): how many observations each party made in each region
    (those outside every region left out)."""
    import pandas as pd

    ok = region >= 0
    f = pd.DataFrame({"by": pd.Series(np.asarray(by, dtype=object)[ok], dtype=object),
                      "region": np.asarray(region, dtype=np.int64)[ok]})
    return f.groupby(["by", "region"], sort=False).size().rename("n").reset_index()


def _phone_homes(counts: list[Any]) -> dict[str, int]:
    """Each phone's home region id from (by, region, n) frames: where most of its
    observations are, the lower id on a tie (as `antifake.detect.TraceData.phone_regions`)."""
    import pandas as pd

    frames = [c for c in counts if len(c)]
    if not frames:
        return {}
    f = pd.concat(frames, ignore_index=True).groupby(["by", "region"]).n.sum().reset_index()
    f = f.sort_values(["by", "n", "region"], ascending=[True, False, True], kind="stable")
    f = f.drop_duplicates("by", keep="first")
    return dict(zip(f["by"].tolist(), f["region"].astype(int).tolist(), strict=True))


def _gather(values: np.ndarray, ptr: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Concatenated CSR rows ``values[ptr[k]:ptr[k+1]]`` of every key."""
    if not len(keys):
        return values[:0]
    lo, hi = ptr[keys], ptr[keys + 1]
    n = hi - lo
    total = int(n.sum())
    if not total:
        return values[:0]
    start = np.cumsum(n) - n
    pos = np.arange(total, dtype=np.int64) + np.repeat(lo - start, n)
    return values[pos]


_EMPTY_CONTEXT: dict[str, Any] = {
    "epcs": np.zeros(0, object), "parties": np.zeros(0, object), "ev_ids": np.zeros(0, object),
    "ev_time": np.zeros(0, np.int64), "ev_kind": np.zeros(0, np.uint8),
    "ev_by": np.zeros(0, np.int32), "ev_src": np.zeros(0, np.int32),
    "ev_dst": np.zeros(0, np.int32), "ev_lat": np.zeros(0), "ev_lon": np.zeros(0),
    "inc_event": np.zeros(0, np.int64), "inc_node": np.zeros(0, np.int64),
    "agg_parent": np.zeros(0, np.int64), "node_key": np.zeros(0, np.int32),
    "node_batch": np.zeros(0, np.int64), "ev_detail": np.zeros(0, np.uint8),
    "party_role": np.zeros(0, object), "party_region": np.zeros(0, object),
    "party_lat": np.zeros(0), "party_lon": np.zeros(0), "region_radius_km": 300.0,
}


def _context_columns(context: Any) -> dict[str, Any]:
    """The columns of a context (Registry, Simulation, TraceData or None)."""
    if context is None:
        return dict(_EMPTY_CONTEXT)
    from antifake.detect import _as_data

    d = _as_data(context)
    g = d.graph
    return {
        "epcs": np.asarray(d.epcs, dtype=object), "parties": np.asarray(d.parties, object),
        "ev_ids": np.asarray(d.ev_ids, dtype=object), "ev_time": d.ev_time,
        "ev_kind": d.ev_kind, "ev_by": d.ev_by, "ev_src": d.ev_src, "ev_dst": d.ev_dst,
        "ev_lat": d.ev_lat, "ev_lon": d.ev_lon, "inc_event": d.inc_event,
        "inc_node": d.inc_node, "agg_parent": d.agg_parent,
        "node_key": np.asarray(g._node_key), "node_batch": np.asarray(g._node_batch),
        "ev_detail": d.ev_detail, "party_role": d.party_role,
        "party_region": d.party_region, "party_lat": d.party_lat, "party_lon": d.party_lon,
        "region_radius_km": d.region_radius_km,
    }


def _context_payload(context: Any) -> bytes:
    import pickle

    return pickle.dumps(_context_columns(context), protocol=5)


def _context_from_payload(payload: bytes) -> _Context:
    import pickle

    digest = "ctx:" + hashlib.blake2b(payload, digest_size=16).hexdigest()
    return _cached(digest, lambda: _Context(pickle.loads(payload)))  # noqa: S301


def _obj(values: Iterable[Any]) -> np.ndarray:
    v = list(values)
    out = np.empty(len(v), dtype=object)
    out[:] = v
    return out


def _detect_part(scans: Any, ctx: _Context, config: Any,
                 homes: dict[str, int] | None = None) -> list[Any]:
    """The per-code rules over one partition of a scan log, against the context
    (``homes``: every phone's home region id over the whole log and context)."""
    from antifake.detect import Detector, TraceData
    from antifake.epcis.kinds import EventKind

    if not len(scans):
        return []
    import pandas as pd

    scans = scans.sort_values(["time", "event_id"], kind="stable")
    c = ctx.cols
    # codes and scanners in order of first appearance, without a Python loop per scan
    code_inv, code_uniq = pd.factorize(scans["code"], sort=False)
    if (code_inv < 0).any():
        raise DaskError("the scan log has rows without a code")
    uniq = np.asarray(code_uniq, dtype=object).tolist()
    known = np.fromiter((ctx.index.get(u, -1) for u in uniq), dtype=np.int64, count=len(uniq))
    sub = ctx.closure(known[known >= 0]) if len(c["epcs"]) else np.zeros(0, np.int64)
    is_new = known < 0
    new_codes = [u for u, f in zip(uniq, is_new.tolist(), strict=True) if f]
    n_sub = len(sub)
    node_map = np.full(len(c["epcs"]), -1, dtype=np.int64)
    node_map[sub] = np.arange(n_sub)
    ev = ctx.events_of(sub) if n_sub else np.zeros(0, np.int64)
    ev_map = np.full(len(c["ev_ids"]), -1, dtype=np.int64)
    ev_map[ev] = np.arange(len(ev))
    rows = np.sort(_gather(ctx.by_node_row, ctx.by_node_ptr, sub))
    inc_e_ctx, inc_n_ctx = ev_map[c["inc_event"][rows]], node_map[c["inc_node"][rows]]
    uniq_node = np.empty(len(uniq), dtype=np.int64)
    uniq_node[~is_new] = node_map[known[~is_new]]
    uniq_node[is_new] = n_sub + np.arange(int(is_new.sum()))
    scan_node = uniq_node[code_inv]
    by_inv, by_uniq = pd.factorize(scans["by"], sort=False)  # missing: -1
    names = np.asarray(by_uniq, dtype=object).tolist()
    pid = np.fromiter((ctx.party_index.get(p, -1) for p in names), dtype=np.int64,
                      count=len(names))
    newp = pid < 0
    extra = [p for p, f in zip(names, newp.tolist(), strict=True) if f]
    pid[newp] = len(c["parties"]) + np.arange(int(newp.sum()))
    by_idx = np.where(by_inv >= 0, pid[np.maximum(by_inv, 0)], -1).astype(np.int32)
    n_sc = len(scans)
    n_ev_sub = len(ev)
    parent = c["agg_parent"][ev]
    n_new_p = len(extra)
    cols: dict[str, Any] = dict(
        epcs=np.concatenate([c["epcs"][sub], _obj(new_codes)]),
        parties=np.concatenate([c["parties"], _obj(extra)]),
        ev_ids=np.concatenate([c["ev_ids"][ev], scans["event_id"].to_numpy(dtype=object)]),
        ev_time=np.concatenate([c["ev_time"][ev], scans["time"].to_numpy(np.int64)]),
        ev_kind=np.concatenate([c["ev_kind"][ev],
                                np.full(n_sc, int(EventKind.SCAN), np.uint8)]),
        ev_by=np.concatenate([c["ev_by"][ev], by_idx]),
        ev_src=np.concatenate([c["ev_src"][ev], np.full(n_sc, -1, np.int32)]),
        ev_dst=np.concatenate([c["ev_dst"][ev], np.full(n_sc, -1, np.int32)]),
        ev_lat=np.concatenate([c["ev_lat"][ev], scans["lat"].to_numpy(np.float64)]),
        ev_lon=np.concatenate([c["ev_lon"][ev], scans["lon"].to_numpy(np.float64)]),
        inc_event=np.concatenate([inc_e_ctx, n_ev_sub + np.arange(n_sc, dtype=np.int64)]),
        inc_node=np.concatenate([inc_n_ctx, scan_node]),
        agg_parent=np.concatenate([np.where(parent >= 0, node_map[np.maximum(parent, 0)], -1),
                                   np.full(n_sc, -1, np.int64)]),
        node_key=np.concatenate([c["node_key"][sub], np.full(len(new_codes), -1, np.int32)]),
        node_batch=np.concatenate([c["node_batch"][sub],
                                   np.full(len(new_codes), -1, np.int64)]),
        ev_detail=np.concatenate([c["ev_detail"][ev], np.zeros(n_sc, np.uint8)]),
        party_role=np.concatenate([c["party_role"], np.full(n_new_p, None, object)]),
        party_region=np.concatenate([c["party_region"], np.full(n_new_p, None, object)]),
        party_lat=np.concatenate([c["party_lat"], np.full(n_new_p, np.nan)]),
        party_lon=np.concatenate([c["party_lon"], np.full(n_new_p, np.nan)]),
    )
    ph = None
    if homes is not None:
        ph = np.fromiter((homes.get(p, -1) for p in cols["parties"].tolist()), dtype=np.int32,
                         count=len(cols["parties"]))
    data = TraceData.from_arrays(**cols, region_radius_km=c["region_radius_km"],
                                 phone_regions=ph)
    alerts = Detector(config).run(data)
    mine = set(uniq)
    return [a for a in alerts if len(a.codes) == 1 and a.codes[0] in mine]


def _rank(alerts: list[Any]) -> list[Any]:
    """The order `antifake.detect.detect` gives: score (4 decimals) down, first
    seen, kind, first code."""
    from antifake.detect import KINDS

    kind_id = {k: i for i, k in enumerate(KINDS)}
    return sorted(alerts, key=lambda a: (-round(a.score, 4), a.first_us, kind_id[a.kind],
                                         a.codes[0]))


def _config(config: Any) -> Any:
    from antifake.detect import DetectConfig

    if config is None:
        config = DetectConfig(kinds=PER_CODE_KINDS)
    if not isinstance(config, DetectConfig):
        raise DaskError(f"config must be a DetectConfig, not {type(config).__name__}")
    kinds = frozenset(config.kinds) & PER_CODE_KINDS
    if kinds != frozenset(config.kinds):
        from dataclasses import replace

        config = replace(config, kinds=kinds)
    return config


def _check_log(df: Any) -> None:
    missing = [c for c in SCAN_COLUMNS if c not in df.columns]
    if missing:
        raise DaskError(f"the scan log lacks columns {missing} (expected {list(SCAN_COLUMNS)})")


def detect_scans(scans: Any, context: Any = None, *, config: Any = None) -> list[Any]:
    """Single-process detection over a scan log (a pandas dataframe with the columns of
    `SCAN_COLUMNS`) in ``context`` (a Registry, Simulation, TraceData or None): the
    per-code alerts of the scanned codes, ranked as `antifake.detect` ranks them."""
    _check_log(scans)
    cfg = _config(config)
    ctx = _Context(_context_columns(context))
    homes = _phone_homes([ctx.ctx_counts, ctx.phone_counts(scans)])
    return _rank(_detect_part(scans, ctx, cfg, homes))


def _detect_partition(part: Any, payload: Any, config: Any, homes: dict[str, int]) -> Any:
    from dataclasses import replace

    import pandas as pd

    config = replace(config, threads=1)  # Dask runs the partitions in parallel
    ctx = _context_from_payload(payload)
    alerts = _detect_part(part, ctx, config, homes)
    return pd.DataFrame({"alert": pd.Series(alerts, dtype=object)})


def _count_partition(part: Any, payload: Any) -> Any:
    return _context_from_payload(payload).phone_counts(part)


def detect_scans_dask(scans: Any, context: Any = None, *, config: Any = None,
                      client: Any = None, npartitions: int | None = None,
                      partitioned_by_code: bool = False) -> list[Any]:
    """`detect_scans` over a dask dataframe (see the module documentation): shuffled
    by code into ``npartitions`` (default: as many as it has), the context broadcast once.
    ``partitioned_by_code=True`` skips the shuffle for a log whose partitions already hold
    all the scans of their codes (``read_scan_log(path, by_code=True)``); a code split over
    two partitions would then be examined twice, each time on part of its scans.
    Returns the ranked alerts (computed)."""
    _need_dask()
    import pandas as pd

    _check_log(scans)
    cfg = _config(config)
    payload = _context_payload(context)
    cl = _client(client)
    handle = cl.scatter(payload, broadcast=True, hash=False) if cl is not None else payload
    parts = scans[list(SCAN_COLUMNS)]
    if not partitioned_by_code:
        parts = parts.shuffle(on="code", npartitions=npartitions)
    # phones' homes over the whole log (one small pass: counts per phone and region), then
    # the rules per partition with them
    cmeta = pd.DataFrame({"by": pd.Series([], dtype=object),
                          "region": pd.Series([], dtype=np.int64),
                          "n": pd.Series([], dtype=np.int64)})
    counted = scans[list(SCAN_COLUMNS)].map_partitions(_count_partition, handle, meta=cmeta)
    counts = counted.compute() if cl is None else cl.compute(counted).result()
    homes = _phone_homes([_context_from_payload(payload).ctx_counts, counts])
    if cl is not None:
        homes = cl.scatter([homes], broadcast=True, hash=False)[0]  # one object, not per key
    meta = pd.DataFrame({"alert": pd.Series([], dtype=object)})
    out = parts.map_partitions(_detect_partition, handle, cfg, homes, meta=meta)
    frame = out.compute() if cl is None else cl.compute(out).result()
    return _rank(frame["alert"].tolist())
