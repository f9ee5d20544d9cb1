"""Scoring alerts against the ground truth of an attacked simulation: precision, recall and
time to detection per attack, per rule and per target category."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from antifake.detect import (
    ACT_ON_IT,
    KINDS,
    Alert,
)
from antifake.research._attack_types import _H, ATTACKS, CATEGORIES, AttackedSimulation, AttackError


@dataclass
class Evaluation:
    """Precision, recall and time to detection (hours) of alerts against the truth."""

    per_attack: dict[str, dict[str, Any]]
    per_rule: dict[str, dict[str, Any]]
    per_category: dict[str, dict[str, Any]]
    false_positives: dict[str, int]  # genuine codes with act-on-it alerts, by noise kind

    def table(self) -> str:
        """The results as Markdown tables."""
        lines = ["| target | codes | precision | recall | TTD median h | TTD p90 h |",
                 "|---|---:|---:|---:|---:|---:|"]
        for name, r in self.per_category.items():
            lines.append(f"| {name} | {r['codes']} | {_f(r['precision'])} | {_f(r['recall'])}"
                         f" | {_f(r['ttd_median_h'], 1)} | {_f(r['ttd_p90_h'], 1)} |")
        lines += ["", "| attack | codes | observable | recall (any rule) | recall observable |"
                  " TTD median h | caught by |", "|---|---:|---:|---:|---:|---:|---|"]
        for name, r in self.per_attack.items():
            by = ", ".join(f"{k} {v:.2f}" for k, v in r["by_rule"].items() if v >= 0.01)
            lines.append(f"| {name} | {r['codes']} | {r['observable']} | {_f(r['recall'])} | "
                         f"{_f(r['recall_observable'])} | {_f(r['ttd_median_h'], 1)} | {by} |")
        lines += ["", "| rule | flagged codes | precision | false positives | weak alerts |",
                  "|---|---:|---:|---:|---:|"]
        for name, r in self.per_rule.items():
            lines.append(f"| {name} | {r['flagged']} | {_f(r['precision'])} | {r['fp']} | "
                         f"{r['weak']} |")
        return "\n".join(lines)


def _f(x: float | None, digits: int = 3) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def evaluate(alerts: Sequence[Alert], attacked: AttackedSimulation, *,
             act: float = ACT_ON_IT) -> Evaluation:
    """Score ``alerts`` against ``attacked.attacks``: a code is *flagged* by a rule when an
    alert of that kind with score >= ``act`` names it. Precision counts a flagged code as
    right when it is attacked (by any attack); recall is over the codes of an attack;
    time to detection is the earliest act-on-it alert's ``first_seen`` minus the attack's
    start on that code."""
    truth = attacked.attacks
    if truth is None:
        raise AttackError("evaluate needs an AttackedSimulation (with ground truth)")
    attacked_codes = dict(zip(truth.codes.tolist(), truth.attack.tolist(), strict=True))
    start = dict(zip(truth.codes.tolist(), truth.start.tolist(), strict=True))
    flagged: dict[str, set[str]] = {k: set() for k in KINDS}
    weak: dict[str, int] = dict.fromkeys(KINDS, 0)
    first: dict[str, float] = {}
    first_by_rule: dict[tuple[str, str], float] = {}
    for a in alerts:
        if a.score < act:
            weak[a.kind] += 1
            continue
        fs = a.first_seen.timestamp() * 1e6
        for c in a.codes:
            flagged[a.kind].add(c)
            if fs < first.get(c, math.inf):
                first[c] = fs
            if fs < first_by_rule.get((a.kind, c), math.inf):
                first_by_rule[(a.kind, c)] = fs
    any_flag = set().union(*flagged.values())
    noise_of: dict[str, list[str]] = {}
    for name, nodes in attacked.noise.items():
        for c in attacked.epcs[nodes].tolist():
            noise_of.setdefault(c, []).append(name)
    per_rule = {}
    for k in KINDS:
        f = flagged[k]
        tp = sum(1 for c in f if c in attacked_codes)
        per_rule[k] = {"flagged": len(f), "precision": tp / len(f) if f else math.nan,
                       "fp": len(f) - tp, "weak": weak[k]}
    fps: dict[str, int] = {}
    for c in any_flag:
        if c not in attacked_codes:
            for n in noise_of.get(c, ["(no noise)"]):
                fps[n] = fps.get(n, 0) + 1

    def ttd(codes: list[str], rules: Sequence[str] | None) -> tuple[float, float]:
        vals = []
        for c in codes:
            if rules is None:
                f = first.get(c)
            else:
                f = min((first_by_rule.get((r, c), math.inf) for r in rules), default=math.inf)
                f = None if f == math.inf else f
            if f is not None:
                vals.append(max(0.0, (f - start[c]) / _H))
        if not vals:
            return math.nan, math.nan
        return float(np.median(vals)), float(np.percentile(vals, 90))

    per_attack = {}
    for att in ATTACKS:
        m = truth.attack == att
        codes = truth.codes[m].tolist()
        obs = truth.codes[m & truth.observable].tolist()
        hit = [c for c in codes if c in any_flag]
        med, p90 = ttd(codes, None)
        per_attack[att] = {
            "codes": len(codes), "observable": len(obs),
            "recall": len(hit) / len(codes) if codes else math.nan,
            "recall_observable": (sum(1 for c in obs if c in any_flag) / len(obs)
                                  if obs else math.nan),
            "ttd_median_h": med, "ttd_p90_h": p90,
            "by_rule": {k: (sum(1 for c in codes if c in flagged[k]) / len(codes)
                            if codes else 0.0) for k in KINDS},
        }
    per_cat = {}
    for name, (atts, rules) in CATEGORIES.items():
        codes = truth.codes[np.isin(truth.attack, atts)].tolist()
        f = set().union(*(flagged[r] for r in rules))
        tp = sum(1 for c in f if c in attacked_codes)
        strict = sum(1 for c in f if attacked_codes.get(c) in atts)
        med, p90 = ttd(codes, rules)
        per_cat[name] = {
            "codes": len(codes), "flagged": len(f),
            "precision": tp / len(f) if f else math.nan,
            "precision_strict": strict / len(f) if f else math.nan,
            "recall": (sum(1 for c in codes if c in f) / len(codes)) if codes else math.nan,
            "ttd_median_h": med, "ttd_p90_h": p90, "attacks": atts, "rules": rules,
        }
    return Evaluation(per_attack, per_rule, per_cat, fps)
