"""``antifake research run``: every figure and table of ``docs/research.md`` from one command.

[`run`][antifake.research.pipeline.run] simulates, detects and scores (the detector beside the
literature baseline), sweeps each noise source, measures time and memory against size, and writes
into ``out``: figures (PNG and SVG), tables (CSV and Parquet), the held-out simulation's scan log
and ground truth (CSV and Parquet, for other tools), the calibration, and ``summary.json`` with
every parameter, the machine and the headline numbers. Seeded: the same arguments give the same
tables (times and memory aside).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from antifake.detect import ACT_ON_IT, DetectConfig, detect
from antifake.epcis.kinds import EventKind
from antifake.research.attacks import ATTACKS, AttackMix
from antifake.research.baseline import baseline_scores
from antifake.research.calibrate import Calibration, fit_calibration
from antifake.research.field import (
    ATTACK_PLUGINS,
    DEFAULT_COPIES,
    FieldNoise,
    FieldSimulation,
    field_simulation,
)
from antifake.research.metrics import code_scores, pr_curve, reliability, score_table
from antifake.research.oracle import recall_bounds
from antifake.research.sim import SupplyChain

__all__ = ["DEFAULT_ITEMS", "research_chain", "run"]

#: Items per simulation at ``scale`` 1.
DEFAULT_ITEMS = 100_000
#: The sweeps: parameter, values, how a value changes the noisy default.
SWEEPS: dict[str, tuple[list[float], str]] = {
    "missed_read": ([0.0, 0.1, 0.2, 0.3, 0.4], "share of scans and supply-chain events lost"),
    "phone_skew_h": ([0.0, 0.5, 1.0, 2.0, 4.0], "phone clocks off by up to (hours)"),
    "gps_km": ([0.0, 1.0, 3.0, 10.0, 30.0], "GPS error (km, per axis)"),
    "clone_share": ([0.5, 1.0, 2.0, 4.0], "copied codes, times the default share"),
    "borrowed_phone": ([0.0, 0.01, 0.05, 0.1], "owners' scans from someone else's phone nearby"),
    "handover": ([0.0, 0.02, 0.05, 0.1], "items handed over to a new owner and phone"),
}
#: The sweeps that set one field of `FieldNoise`: the field, and what one unit of the swept
#: value is in that field's unit.
_NOISE_FIELDS: dict[str, tuple[str, float]] = {
    "missed_read": ("missed_read", 1.0), "phone_skew_h": ("phone_skew_s", 3600.0),
    "gps_km": ("gps_km", 1.0), "borrowed_phone": ("borrowed_phone", 1.0),
    "handover": ("handover", 1.0),
}


def research_chain(n_items: int, seed: int) -> SupplyChain:
    """The supply chain of the experiments: ``n_items`` items, a retailer per 2,000 items, a
    phone per 4 items (each sold item's owner keeps one: about three items a phone), pallets of
    10 cases (so that some are stolen or repacked at any size)."""
    return SupplyChain(n_items=n_items, n_retailers=max(20, n_items // 2000),
                       n_apps=max(50, n_items // 4), cases_per_pallet=10,
                       held_fraction=0.03, transit_fraction=0.02, seed=seed)


def _noise_for(param: str, value: float) -> tuple[FieldNoise, AttackMix, dict[str, float]]:
    noise, mix, copies = FieldNoise(), AttackMix(), dict(DEFAULT_COPIES)
    if param in _NOISE_FIELDS:
        field, unit = _NOISE_FIELDS[param]
        noise = replace(noise, **{field: value * unit})
    elif param == "clone_share":
        mix = replace(mix, clone_fraction=mix.clone_fraction * value)
        copies = {k: v * value for k, v in copies.items()}
    return noise, mix, copies


class _Progress:
    def __init__(self, total: int, show: bool) -> None:
        self.total, self.done, self.show = total, 0, show
        self.t0 = time.perf_counter()
        self.bar: Any = None
        if show:
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=total, unit="step", dynamic_ncols=True)
            except ImportError:
                self.bar = None

    def step(self, what: str) -> None:
        self.done += 1
        if not self.show:
            return
        if self.bar is not None:
            self.bar.set_description(what[:60])
            self.bar.update(1)
        else:
            print(f"[{self.done}/{self.total} {time.perf_counter() - self.t0:6.1f} s] {what}",
                  flush=True)

    def note(self, what: str) -> None:
        if self.show and self.bar is not None:
            self.bar.set_description(what[:60])
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _evaluate(fs: FieldSimulation, config: DetectConfig, cal: Calibration | None
              ) -> dict[str, Any]:
    t = time.perf_counter()
    alerts = detect(fs.data, config=config)
    t_det = time.perf_counter() - t
    raw = code_scores(alerts, fs.data)
    out: dict[str, Any] = {"detect_s": t_det, "alerts": alerts, "raw": raw,
                           "table": score_table(raw, fs.data, ACT_ON_IT, fs.travellers,
                                                fs.handovers),
                           "baseline": baseline_scores(fs.data), "oracle": recall_bounds(fs)}
    out["baseline_table"] = score_table(out["baseline"], fs.data, 0.5, fs.travellers,
                                        fs.handovers)
    if cal is not None:
        out["cal"] = code_scores(cal.apply(alerts), fs.data)
    return out


def _write(df_rows: list[dict[str, Any]], path: Path) -> None:
    """A table as CSV and Parquet."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    cols: dict[str, list[Any]] = {}
    for r in df_rows:
        for k in r:
            cols.setdefault(k, [])
    for r in df_rows:
        for k in cols:
            cols[k].append(r.get(k))
    table = pa.table(cols) if df_rows else pa.table({"empty": pa.array([], pa.int8())})
    pacsv.write_csv(table, str(path.with_suffix(".csv")))
    pq.write_table(table, str(path.with_suffix(".parquet")))


def _export_sim(fs: FieldSimulation, out: Path) -> None:
    """The held-out simulation's events (one row per event and code) and ground truth."""
    d = fs.data
    e, n = d.inc_event, d.inc_node
    kinds = np.array([k.name.lower() for k in EventKind], dtype=object)
    by = d.ev_by[e]
    party = np.where(by >= 0, d.parties[np.maximum(by, 0)], None)
    rows_cols = {
        "event_id": d.ev_ids[e], "time_us": d.ev_time[e], "kind": kinds[d.ev_kind[e]],
        "code": d.epcs[n], "by": party, "lat": d.ev_lat[e], "lon": d.ev_lon[e],
    }
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    table = pa.table({k: pa.array(v.tolist() if v.dtype == object else v)
                      for k, v in rows_cols.items()})
    pq.write_table(table, str(out / "scan_log.parquet"))
    pacsv.write_csv(table, str(out / "scan_log.csv"))
    t = d.attacks
    assert t is not None
    truth = [{"code": c, "attack": a, "start_us": int(s), "observable": bool(o)}
             for c, a, s, o in zip(t.codes.tolist(), t.attack.tolist(), t.start.tolist(),
                                   t.observable.tolist(), strict=True)]
    truth += [{"code": c, "attack": "honest_traveller", "start_us": -1, "observable": True}
              for c in d.epcs[fs.travellers].tolist()]
    truth += [{"code": c, "attack": "honest_handover", "start_us": -1, "observable": True}
              for c in d.epcs[fs.handovers].tolist()]
    _write(truth, out / "ground_truth")


def _machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0.0
    with contextlib.suppress(ValueError, OSError, AttributeError):
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import numpy

    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem, 1),
            "python": platform.python_version(), "numpy": numpy.__version__,
            "platform": platform.platform()}


def run(out: str | os.PathLike[str], *, scale: float = 1.0, seed: int = 0,
        progress: bool = True, perf: bool = True, perf_sizes: Sequence[int] | None = None,
        log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Regenerate every figure and table into ``out`` (created); returns the summary.

    ``scale`` multiplies the items per simulation (``DEFAULT_ITEMS``) and the largest size of
    the time/memory sweep; ``seed`` is the seed the calibration is fitted on (pooled with
    ``seed + 1000`` and ``seed + 2000``), ``seed + 1`` the held-out seed every headline number
    is measured on."""
    from antifake.research import figures

    if not scale > 0:
        raise ValueError("scale must be > 0")
    outp = Path(out)
    (outp / "figures").mkdir(parents=True, exist_ok=True)
    (outp / "data").mkdir(parents=True, exist_ok=True)
    n = max(2_000, int(DEFAULT_ITEMS * scale))
    held = seed + 1
    config = DetectConfig()
    kinds = list(ATTACKS) + sorted(ATTACK_PLUGINS)
    sweep_runs = sum(len(v[0]) for v in SWEEPS.values())
    if perf_sizes is None:
        top = max(10_000, int(1_000_000 * scale))
        perf_sizes = [s for s in (10_000, 30_000, 100_000, 300_000, 1_000_000, 3_000_000,
                                  10_000_000) if s <= top] or [top]
    n_perf = len(perf_sizes) if perf else 0
    prog = _Progress(3 + sweep_runs + n_perf + 1, progress)
    t_start = time.perf_counter()
    summary: dict[str, Any] = {"items": n, "seed": seed, "held_out_seed": held,
                               "scale": scale, "machine": _machine(),
                               "detect_config": {k: (sorted(v) if isinstance(v, frozenset)
                                                     else v)
                                                 for k, v in asdict(config).items()}}
    # -- calibration seed and held-out seed, every attack and the noisy default
    train = field_simulation(research_chain(n, seed), seed=seed)
    r_train = _evaluate(train, config, None)
    more = []
    for extra in (seed + 1000, seed + 2000):  # two more simulations pooled into the fit
        fx = field_simulation(research_chain(n, extra), seed=extra)
        more.append((detect(fx.data, config=config), fx.data))
    cal = fit_calibration(r_train["alerts"], train.data, more=more)
    del more
    prog.step(f"calibration seeds {seed}, {seed + 1000}, {seed + 2000}: {n:,} items each")
    test = field_simulation(research_chain(n, held), seed=held)
    r_test = _evaluate(test, config, cal)
    prog.step(f"held-out seed {held}")
    summary["params"] = test.params()
    summary["plugins"] = {k: p.description.split("\n")[0] for k, p in ATTACK_PLUGINS.items()}
    (outp / "data" / "calibration.json").write_text(cal.to_json())
    _write(cal.table(), outp / "data" / "calibration")
    _export_sim(test, outp / "data")
    headline = []
    for name, r, fs in (("calibration seed", r_train, train), ("held-out seed", r_test, test)):
        for impl, tab in (("antifake", r["table"]), ("baseline", r["baseline_table"])):
            row = {"run": name, "seed": fs.seed, "detector": impl,
                   "precision": tab["precision"], "recall": tab["recall"],
                   "recall_bound": r["oracle"]["recall_bound"],
                   "flagged": tab["flagged"], "false_positives": tab["false_positives"],
                   "travellers_flagged": tab["travellers_flagged"], "travellers":
                   tab["travellers"], "handovers_flagged": tab["handovers_flagged"],
                   "handovers": tab["handovers"]}
            for k, v in tab["per_attack"].items():
                row[f"recall_{k}"] = v["recall"]
            headline.append(row)
    _write(headline, outp / "data" / "headline")
    rel_raw = reliability(r_test["raw"], test.data)
    rel_cal = reliability(r_test["cal"], test.data)
    _write([{"scores": "raw", **x} for x in rel_raw] + [{"scores": "calibrated", **x}
                                                         for x in rel_cal],
           outp / "data" / "reliability")
    summary["detect_seconds"] = {"calibration seed": r_train["detect_s"],
                                 "held-out seed": r_test["detect_s"]}
    # -- per attack kind on the held-out seed: precision of the rules that catch it, recall,
    # and precision-recall over the threshold of the calibrated scores
    per_kind: list[dict[str, Any]] = []
    pr_rows: list[dict[str, Any]] = []
    for k in kinds:
        for impl, tab in (("antifake", r_test["table"]), ("baseline", r_test["baseline_table"])):
            pa_ = tab["per_attack"].get(k, {})
            per_kind.append({"attack": k, "detector": impl, "seed": held,
                             "codes": pa_.get("observable", 0),
                             "precision": pa_.get("precision", math.nan),
                             "recall": pa_.get("recall", math.nan),
                             "recall_bound": r_test["oracle"]["per_attack"].get(k, {}).get(
                                 "recall_bound", math.nan)})
        for impl, sc in (("antifake (calibrated)", r_test["cal"]), ("antifake (raw)",
                                                                     r_test["raw"]),
                         ("baseline", r_test["baseline"])):
            for row in pr_curve(sc, test.data, attacks=[k]):
                pr_rows.append({"attack": k, "detector": impl, **row})
    _write(per_kind, outp / "data" / "per_attack")
    _write(pr_rows, outp / "data" / "pr_curves")
    prog.step("per attack kind")
    # -- sweeps
    sweep_rows: list[dict[str, Any]] = []
    for param, (values, _) in SWEEPS.items():
        for v in values:
            noise, mix, copies = _noise_for(param, v)
            fs = field_simulation(research_chain(n, held), mix=mix, copies=copies, noise=noise,
                                  seed=held)
            r = _evaluate(fs, config, None)
            for impl, tab in (("antifake", r["table"]), ("baseline", r["baseline_table"])):
                row = {"parameter": param, "value": v, "detector": impl,
                       "precision": tab["precision"], "recall": tab["recall"],
                       "recall_bound": r["oracle"]["recall_bound"],
                       "travellers_flagged": tab["travellers_flagged"],
                       "handovers_flagged": tab["handovers_flagged"]}
                for k, pv in tab["per_attack"].items():
                    row[f"recall_{k}"] = pv["recall"]
                sweep_rows.append(row)
            prog.step(f"sweep {param} = {v:g}")
    _write(sweep_rows, outp / "data" / "sweeps")
    # -- time and memory against size
    perf_rows: list[dict[str, Any]] = []
    slopes: list[dict[str, Any]] = []
    if perf:
        from antifake.research.perf import fit_slope, scaling

        for size in perf_sizes:
            perf_rows += scaling([size], baseline_max=100_000, progress=prog.note)
            prog.step(f"time and memory at {size:,}")
        _write(perf_rows, outp / "data" / "scaling")
        for (op, impl) in sorted({(r["operation"], r["implementation"]) for r in perf_rows}):
            rs = [r for r in perf_rows if r["operation"] == op and r["implementation"] == impl]
            slopes.append({"operation": op, "implementation": impl,
                           "time_slope": fit_slope([r["size"] for r in rs],
                                                   [r["seconds"] for r in rs]),
                           "sizes": len(rs)})
        _write(slopes, outp / "data" / "scaling_slopes")
    # -- figures
    files = figures.draw_all(outp / "figures", headline=headline, per_kind=per_kind,
                             pr_rows=pr_rows, sweep_rows=sweep_rows, rel_raw=rel_raw,
                             rel_cal=rel_cal, perf_rows=perf_rows, slopes=slopes,
                             kinds=kinds, sweeps=SWEEPS)
    prog.step("figures")
    prog.close()
    summary["headline"] = headline
    summary["per_attack"] = per_kind
    summary["slopes"] = slopes
    summary["figures"] = [str(f.relative_to(outp)) for f in files]
    summary["elapsed_s"] = time.perf_counter() - t_start
    (outp / "summary.json").write_text(json.dumps(summary, indent=1, default=_json))
    if log is not None:
        for line in _report_lines(summary):
            log(line)
    return summary


def _json(o: Any) -> Any:
    if isinstance(o, np.integer | np.floating):
        return o.item()
    if isinstance(o, float) and math.isnan(o):
        return None
    return str(o)


def _f(x: Any) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def _report_lines(s: dict[str, Any]) -> list[str]:
    lines = [f"{s['items']:,} items per simulation; calibration seed {s['seed']}, held-out "
             f"seed {s['held_out_seed']}; {s['elapsed_s']:.0f} s"]
    for r in s["headline"]:
        lines.append(f"  {r['run']:<17} {r['detector']:<9} precision {_f(r['precision'])} "
                     f"recall {_f(r['recall'])} (bound {_f(r.get('recall_bound'))}) "
                     f"travellers flagged {_f(r['travellers_flagged'])} handovers flagged "
                     f"{_f(r.get('handovers_flagged'))}")
    lines.append("  per attack kind (held-out seed), antifake: precision / recall (bound)")
    for r in s["per_attack"]:
        if r["detector"] == "antifake":
            lines.append(f"    {r['attack']:<20} {_f(r['precision'])} / {_f(r['recall'])} "
                         f"({_f(r.get('recall_bound'))}) ({r['codes']} codes)")
    for r in s["slopes"]:
        lines.append(f"  slope {r['operation']:<24} {r['implementation']:<24} "
                     f"{_f(r['time_slope'])}")
    return lines
