"""antifake.dask on a real local cluster (2 worker processes, 1 thread each): verification
and scan-log detection give exactly what the single-process API gives."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import antifake as af

pytest.importorskip("distributed", reason="pip install 'antifake[dask]'")
pd = pytest.importorskip("pandas")
import dask.array as da  # noqa: E402
import dask.dataframe as dd  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402

from antifake import dask as afd  # noqa: E402

BASE = "https://xacthuc.example.vn/abc"


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                      dashboard_address=None) as cluster, Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def stamps():
    key = af.IssuerKey.generate("VN-QLTT-01")
    other = af.IssuerKey.generate("VN-QLTT-02")
    b1 = af.issue(key, 3000, product=af.Product(gtin="09521234543213", lot="L1"))
    b2 = af.issue(key, 500)
    b3 = af.issue(other, 200)
    ring = af.Keyring([key.public, other.public])
    ring.add_manifest(b1.manifest)  # b2 without manifest: signatures checked
    ring.revoke(other.key_id)  # b3: revoked before its manifest... or not held at all
    urls = np.concatenate([b1.urls(base=BASE), b2.urls(base=BASE), b3.urls(base=BASE)])
    forged = urls[:50].copy()
    forged[:] = [u[:-3] + ("AAA" if u[-3:] != "AAA" else "BBB") for u in forged.tolist()]
    junk = np.array(["", "hello", "x" * 300, "https://xacthuc.example.vn/abc/" + "0" * 20,
                     b1.urls(base=BASE)[0].lower()], dtype=object)
    texts = np.concatenate([urls, b1.numbers()[:300], forged, junk])
    rng = np.random.default_rng(5)
    texts = texts[rng.permutation(len(texts))]
    return key, ring, texts


def test_keyring_payload_round_trip(stamps) -> None:
    _, ring, texts = stamps
    again = afd.keyring_from_payload(afd.keyring_payload(ring))
    assert len(again) == len(ring)
    assert np.array_equal(af.verify_many(texts, again).status,
                          af.verify_many(texts, ring).status)
    assert afd.keyring_from_payload(afd.keyring_payload(ring)) is again  # cached


def test_verify_many_dask_array_equals_verify_many(client, stamps) -> None:
    _, ring, texts = stamps
    want = af.verify_many(texts, ring).status
    assert len(set(want.tolist())) >= 5  # authentic, revoked, bad signature, malformed, ...
    got = afd.verify_many_dask(da.from_array(texts, chunks=700), ring, client=client)
    assert isinstance(got, da.Array) and got.dtype == np.uint8
    assert np.array_equal(got.compute(), want)


def test_verify_many_dask_series_equals_verify_many(client, stamps, tmp_path) -> None:
    _, ring, texts = stamps
    want = af.verify_many(texts, ring).status
    path = tmp_path / "codes"
    dd.from_pandas(pd.DataFrame({"code": pd.Series(texts, dtype=object)}),
                   npartitions=5).to_parquet(path)
    col = dd.read_parquet(path)["code"]  # what workers read themselves
    got = afd.verify_many_dask(col, ring).compute()  # the current client
    assert got.dtype == np.uint8
    assert np.array_equal(got.to_numpy(), want)
    counts = afd.verify_many_dask(col, ring).value_counts().compute()
    assert int(counts.sum()) == len(texts)


def test_secret_keys_stay_home(client, stamps) -> None:
    key, ring, texts = stamps
    secret_ring = af.Keyring([key])
    with pytest.warns(UserWarning, match="secret keys stay"):
        got = afd.verify_many_dask(da.from_array(texts, chunks=2000), secret_ring,
                                   client=client).compute()
    public = af.verify_many(texts, af.Keyring([key.public])).status
    assert np.array_equal(got, public)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        afd.verify_many_dask(da.from_array(texts[:10], chunks=5), ring, client=client)


def test_bad_input() -> None:
    with pytest.raises(afd.DaskError):
        afd.verify_many_dask(["a"], af.Keyring())
    with pytest.raises(afd.DaskError):
        afd.keyring_payload("ring")  # type: ignore[arg-type]
    with pytest.raises(afd.DaskError, match="lacks columns"):
        afd.detect_scans(pd.DataFrame({"code": ["x"]}))


@pytest.fixture(scope="module")
def attacked():
    from antifake.research.attacks import AttackMix, inject
    from antifake.research.sim import SupplyChain, simulate

    pytest.importorskip("antifake.detect")
    sim = inject(simulate(SupplyChain(n_items=8000, seed=11)),
                 AttackMix(clone_fraction=0.01, brute_force_fraction=0.003,
                           listing_fraction=0.005), seed=2)
    return sim


def test_detect_scans_equals_detect_over_everything(attacked) -> None:
    """The single-process function: the per-code alerts detect() gives over the context plus
    the scans, for the scanned codes."""
    from antifake.detect import DetectConfig, TraceData, detect
    from antifake.epcis.kinds import EventKind

    ctx, log = afd.scan_log_from_events(attacked)
    got = afd.detect_scans(log, ctx)
    kinds = {a.kind for a in got}
    assert {"over_scanned", "impossible_travel", "claim_lockout"} <= kinds
    # reference: one TraceData holding the context and every scan, (time, event id) order
    cols = afd._context_columns(ctx)
    log2 = log.sort_values(["time", "event_id"], kind="stable")
    idx = {e: i for i, e in enumerate(cols["epcs"].tolist())}
    pidx = {p: i for i, p in enumerate(cols["parties"].tolist())}
    n, ne = len(log2), len(cols["ev_ids"])

    def cat(name, tail):
        return np.concatenate([cols[name], tail])

    data = TraceData.from_arrays(
        epcs=cols["epcs"], parties=cols["parties"],
        ev_ids=cat("ev_ids", log2["event_id"].to_numpy(object)),
        ev_time=cat("ev_time", log2["time"].to_numpy()),
        ev_kind=cat("ev_kind", np.full(n, int(EventKind.SCAN), np.uint8)),
        ev_by=cat("ev_by", np.array([pidx[p] for p in log2["by"]], np.int32)),
        ev_src=cat("ev_src", np.full(n, -1, np.int32)),
        ev_dst=cat("ev_dst", np.full(n, -1, np.int32)),
        ev_lat=cat("ev_lat", log2["lat"].to_numpy()), ev_lon=cat("ev_lon", log2["lon"].to_numpy()),
        inc_event=cat("inc_event", ne + np.arange(n)),
        inc_node=cat("inc_node", np.array([idx[c] for c in log2["code"]])),
        agg_parent=cat("agg_parent", np.full(n, -1)), node_key=cols["node_key"],
        node_batch=cols["node_batch"], ev_detail=cat("ev_detail", np.zeros(n, np.uint8)),
        party_role=cols["party_role"], party_region=cols["party_region"],
        party_lat=cols["party_lat"], party_lon=cols["party_lon"])
    scanned = set(log["code"])
    ref = [a for a in detect(data, config=DetectConfig(kinds=afd.PER_CODE_KINDS))
           if a.codes[0] in scanned]
    assert got == ref


def test_detect_scans_dask_equals_single_process(client, attacked, tmp_path) -> None:
    ctx, log = afd.scan_log_from_events(attacked)
    want = afd.detect_scans(log, ctx)
    path = tmp_path / "scans"
    dd.from_pandas(log, npartitions=6).to_parquet(path)
    scans = afd.read_scan_log(path)
    got = afd.detect_scans_dask(scans, ctx, client=client, npartitions=5)
    assert got == want and len(got) > 50
    # without a context: the rules that need only the scans
    assert afd.detect_scans_dask(scans, client=client) == afd.detect_scans(log)


def test_a_log_written_by_code_needs_no_shuffle(client, attacked, tmp_path) -> None:
    ctx, log = afd.scan_log_from_events(attacked)
    want = afd.detect_scans(log, ctx)
    half = len(log) // 2
    afd.write_scan_log(log.iloc[:half], tmp_path / "by-code", buckets=4, part="a")
    afd.write_scan_log(log.iloc[half:], tmp_path / "by-code", buckets=4, part="b")
    scans = afd.read_scan_log(tmp_path / "by-code", by_code=True)
    assert scans.npartitions == 4
    got = afd.detect_scans_dask(scans, ctx, client=client, partitioned_by_code=True)
    assert got == want
    b = afd.code_buckets(log["code"], 4)
    assert np.array_equal(b, afd.code_buckets(log["code"].tolist(), 4))  # stable
