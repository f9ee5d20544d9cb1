"""The figures of ``antifake research run`` (matplotlib, PNG and SVG)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["draw_all"]

_OURS = "#1f5fa8"
_BASE = "#c0504d"
_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939"]


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 110, "font.size": 9,
                         "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
                         "axes.spines.right": False, "svg.hashsalt": "antifake",
                         "svg.fonttype": "none"})
    return plt


def _save(fig: Any, path: Path, files: list[Path]) -> None:
    for ext in ("png", "svg"):
        p = path.with_suffix("." + ext)
        kw: dict[str, Any] = {"bbox_inches": "tight"}
        if ext == "svg":
            kw["metadata"] = {"Date": None}
        fig.savefig(p, **kw)
        files.append(p)
    import matplotlib.pyplot as plt

    plt.close(fig)


def _nan(x: Any) -> float:
    return math.nan if x is None else float(x)


def _per_attack(plt: Any, per_kind: list[dict[str, Any]], kinds: list[str], out: Path,
                files: list[Path]) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    x = np.arange(len(kinds))
    for ax, metric in zip(axes, ("precision", "recall"), strict=True):
        for j, (impl, color) in enumerate((("antifake", _OURS), ("baseline", _BASE))):
            vals = []
            for k in kinds:
                r = [row for row in per_kind if row["attack"] == k and row["detector"] == impl]
                vals.append(_nan(r[0][metric]) if r else math.nan)
            label = "antifake" if impl == "antifake" else "literature rule"
            ax.bar(x + (j - 0.5) * 0.38, np.nan_to_num(vals, nan=0.0), 0.38, color=color,
                   label=label)
        ax.axhline(0.9, color="k", lw=0.8, ls="--")
        ax.set_xticks(x, [k.replace("_", " ") for k in kinds], rotation=35, ha="right")
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{metric} per attack kind (held-out seed)")
    axes[0].set_ylabel("share (act-on-it alerts)")
    axes[1].legend(loc="lower right", framealpha=0.9)
    _save(fig, out / "per_attack", files)


def _sweep(plt: Any, rows: list[dict[str, Any]], param: str, label: str, kinds: list[str],
           out: Path, files: list[Path]) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, impl in zip(axes, ("antifake", "baseline"), strict=True):
        rs = sorted((r for r in rows if r["parameter"] == param and r["detector"] == impl),
                    key=lambda r: r["value"])
        xs = [r["value"] for r in rs]
        for j, k in enumerate(kinds):
            ys = [_nan(r.get(f"recall_{k}")) for r in rs]
            if all(math.isnan(y) for y in ys):
                continue
            ax.plot(xs, ys, marker="o", ms=3, lw=1.2, color=_PALETTE[j % len(_PALETTE)],
                    label=f"recall: {k.replace('_', ' ')}")
        ax.plot(xs, [_nan(r["precision"]) for r in rs], color="k", lw=2.4, marker="s", ms=4,
                label="precision (all codes)")
        ax.plot(xs, [_nan(r["travellers_flagged"]) for r in rs], color="k", lw=1.2, ls=":",
                label="honest travellers flagged")
        ax.plot(xs, [_nan(r.get("handovers_flagged")) for r in rs], color="k", lw=1.2,
                ls="-.", label="items handed over flagged")
        ax.plot(xs, [_nan(r.get("recall")) for r in rs], color="0.35", lw=1.6, marker="^",
                ms=3, label="recall (all attacks)")
        ax.plot(xs, [_nan(r.get("recall_bound")) for r in rs], color="0.35", lw=1.2,
                ls="--", label="recall bound (oracle)")
        ax.set_xlabel(label)
        ax.set_ylim(-0.02, 1.05)
        ax.set_title("antifake" if impl == "antifake" else "literature rule (baseline)")
    axes[0].set_ylabel("share")
    axes[1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8, frameon=False)
    _save(fig, out / f"sweep_{param}", files)


def _pr(plt: Any, pr_rows: list[dict[str, Any]], kinds: list[str], out: Path,
        files: list[Path]) -> None:
    cols = 5
    nrow = -(-len(kinds) // cols)
    fig, axes = plt.subplots(nrow, cols, figsize=(12, 2.6 * nrow), sharex=True, sharey=True)
    axes = np.atleast_1d(axes).ravel()
    for ax, k in zip(axes, kinds, strict=False):
        for impl, color, style in (("antifake (calibrated)", _OURS, "-"),
                                   ("antifake (raw)", _OURS, ":"),
                                   ("baseline", _BASE, "-")):
            rs = [r for r in pr_rows if r["attack"] == k and r["detector"] == impl]
            rec = [_nan(r["recall"]) for r in rs]
            pre = [_nan(r["precision"]) for r in rs]
            if impl == "baseline":
                if rs:
                    ax.plot(rec[0], pre[0], "o", color=color, ms=6, label="literature rule")
            else:
                ax.plot(rec, pre, style, color=color, lw=1.6, marker=".", ms=3, label=impl)
        ax.set_title(k.replace("_", " "))
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.05)
    for ax in axes[len(kinds):]:
        ax.axis("off")
    for ax in axes[::cols]:
        ax.set_ylabel("precision")
    for ax in axes[-cols:]:
        ax.set_xlabel("recall")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, frameon=False,
               bbox_to_anchor=(0.5, -0.04))
    fig.suptitle("Precision-recall over the score threshold, per attack kind (held-out seed)")
    fig.tight_layout()
    _save(fig, out / "pr_curves", files)


def _reliability(plt: Any, raw: list[dict[str, Any]], cal: list[dict[str, Any]], out: Path,
                 files: list[Path]) -> None:
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="perfect calibration")
    for rows, color, label in ((raw, _BASE, "raw rule scores"), (cal, _OURS, "calibrated")):
        xs = [_nan(r["mean_score"]) for r in rows if r["codes"]]
        ys = [_nan(r["attacked_share"]) for r in rows if r["codes"]]
        ns = [r["codes"] for r in rows if r["codes"]]
        ax.plot(xs, ys, color=color, lw=1.4, label=label)
        ax.scatter(xs, ys, s=[8 + 4 * math.sqrt(n) for n in ns], color=color, alpha=0.7,
                   zorder=3)
    ax.set_xlabel("score (mean in bin)")
    ax.set_ylabel("share of codes really attacked")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title("Reliability, held-out seed (dot area ~ codes)")
    ax.legend(loc="upper left", frameon=False)
    _save(fig, out / "reliability", files)


def _scaling(plt: Any, rows: list[dict[str, Any]], slopes: list[dict[str, Any]], metric: str,
             out: Path, files: list[Path]) -> None:
    ops = list(dict.fromkeys(r["operation"] for r in rows))
    if not ops:
        return
    cols = 4
    nrow = -(-len(ops) // cols)
    fig, axes = plt.subplots(nrow, cols, figsize=(12, 2.9 * nrow))
    axes = np.atleast_1d(axes).ravel()
    slope = {(s["operation"], s["implementation"]): s["time_slope"] for s in slopes}
    for ax, op in zip(axes, ops, strict=False):
        impls = list(dict.fromkeys(r["implementation"] for r in rows if r["operation"] == op))
        for impl in impls:
            rs = sorted((r for r in rows if r["operation"] == op and r["implementation"] == impl),
                        key=lambda r: r["size"])
            xs = [r["size"] for r in rs]
            ys = [max(_nan(r[metric]), 1e-5 if metric == "seconds" else 1e-3) for r in rs]
            color = _OURS if impl == "antifake" else _BASE
            lab = impl
            if metric == "seconds":
                sl = slope.get((op, impl), math.nan)
                lab = f"{impl} (slope {sl:.2f})" if not math.isnan(sl) else impl
            ax.loglog(xs, ys, marker="o", ms=3, color=color, label=lab)
        ax.set_title(op)
        ax.legend(fontsize=7, framealpha=0.85, loc="best")
        ax.set_xlabel("size (items)")
    for ax in axes[len(ops):]:
        ax.axis("off")
    for ax in axes[::cols]:
        ax.set_ylabel("seconds" if metric == "seconds" else "peak memory (MiB)")
    fig.suptitle("Time against size (log-log)" if metric == "seconds"
                 else "Peak memory against size (log-log)")
    fig.tight_layout()
    _save(fig, out / ("scaling_time" if metric == "seconds" else "scaling_memory"), files)


def draw_all(out: Path, *, headline: list[dict[str, Any]], per_kind: list[dict[str, Any]],
             pr_rows: list[dict[str, Any]], sweep_rows: list[dict[str, Any]],
             rel_raw: list[dict[str, Any]], rel_cal: list[dict[str, Any]],
             perf_rows: list[dict[str, Any]], slopes: list[dict[str, Any]],
             kinds: Sequence[str], sweeps: dict[str, tuple[list[float], str]]) -> list[Path]:
    """Every figure into ``out``; returns the files written."""
    plt = _plt()
    files: list[Path] = []
    kinds = list(kinds)
    _per_attack(plt, per_kind, kinds, out, files)
    for param, (_, label) in sweeps.items():
        _sweep(plt, sweep_rows, param, label, kinds, out, files)
    _pr(plt, pr_rows, kinds, out, files)
    _reliability(plt, rel_raw, rel_cal, out, files)
    if perf_rows:
        _scaling(plt, perf_rows, slopes, "seconds", out, files)
        _scaling(plt, perf_rows, slopes, "peak_mib", out, files)
    del headline
    return files
