"""Scoring alerts against ground truth: per-code scores, precision and recall per attack kind,
precision-recall curves, and the reliability of scores read as probabilities.

A code is *flagged* at threshold ``t`` when an alert with score >= ``t`` names it (any rule).
Precision counts a flagged code as right when any attack touched it; recall of an attack kind is
over its *observable* codes (those with at least one recorded event of the attack left after the
missed reads); honest travellers flagged is over the genuine codes whose owner travelled.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from antifake.detect import Alert
from antifake.research.attacks import AttackedSimulation

__all__ = ["CodeScores", "code_scores", "pr_curve", "reliability", "score_table"]


@dataclass
class CodeScores:
    """The highest alert score per graph node (-1: no alert) and the rule that gave it."""

    score: np.ndarray
    kind: np.ndarray  # object: alert kind of the best alert, "" none


def code_scores(alerts: Iterable[Alert], sim: AttackedSimulation) -> CodeScores:
    """Per node: the best score of the alerts naming it."""
    index = {c: i for i, c in enumerate(sim.epcs.tolist())}
    score = np.full(sim.n_nodes, -1.0)
    kind = np.full(sim.n_nodes, "", dtype=object)
    for a in alerts:
        for c in a.codes:
            i = index.get(c)
            if i is not None and a.score > score[i]:
                score[i] = a.score
                kind[i] = a.kind
    return CodeScores(score, kind)


def _truth(sim: AttackedSimulation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = sim.attacks
    if t is None:
        raise ValueError("scoring needs an attacked simulation (with ground truth)")
    return t.nodes, t.attack, t.observable


def score_table(scores: CodeScores | np.ndarray, sim: AttackedSimulation, threshold: float = 0.5,
                travellers: np.ndarray | None = None, handovers: np.ndarray | None = None
                ) -> dict[str, Any]:
    """Precision, recall (overall and per attack kind), honest travellers flagged and (given
    ``handovers``) honest items handed over to a new owner flagged."""
    s = scores.score if isinstance(scores, CodeScores) else scores
    nodes, attack, obs = _truth(sim)
    flagged = s >= threshold
    attacked = np.zeros(len(s), dtype=bool)
    attacked[nodes] = True
    n_flag = int(flagged.sum())
    tp = int(np.count_nonzero(flagged & attacked))
    out: dict[str, Any] = {
        "threshold": threshold, "flagged": n_flag,
        "precision": tp / n_flag if n_flag else math.nan,
        "false_positives": n_flag - tp,
    }
    uo = np.unique(nodes[obs])
    out["recall"] = float(flagged[uo].mean()) if len(uo) else math.nan
    out["observable"] = len(uo)
    per: dict[str, dict[str, Any]] = {}
    for name in sorted(set(attack.tolist())):
        m = attack == name
        o = nodes[m & obs]
        per[name] = {"codes": int(m.sum()), "observable": len(o),
                     "recall": float(flagged[o].mean()) if len(o) else math.nan,
                     "precision": _rule_precision(scores, flagged, attacked, o)}
    out["per_attack"] = per
    if travellers is not None:
        tv = np.asarray(travellers, dtype=np.int64)
        out["travellers"] = len(tv)
        out["travellers_flagged"] = float(flagged[tv].mean()) if len(tv) else math.nan
    if handovers is not None:
        ho = np.asarray(handovers, dtype=np.int64)
        out["handovers"] = len(ho)
        out["handovers_flagged"] = float(flagged[ho].mean()) if len(ho) else math.nan
    return out


def _rule_precision(scores: CodeScores | np.ndarray, flagged: np.ndarray, attacked: np.ndarray,
                    target: np.ndarray) -> float:
    """Precision of the rules that catch ``target``: over the flagged codes whose best alert
    is of a rule that flags at least 10 % of the flagged target codes (every flagged code when
    the scores carry no rule)."""
    if not isinstance(scores, CodeScores):
        n = int(flagged.sum())
        return int(np.count_nonzero(flagged & attacked)) / n if n else math.nan
    hit = target[flagged[target]]
    if not len(hit):
        return math.nan
    kinds, counts = np.unique(scores.kind[hit].astype(str), return_counts=True)
    rules = kinds[counts >= 0.1 * len(hit)]
    sel = flagged & np.isin(scores.kind.astype(str), rules)
    n = int(sel.sum())
    return int(np.count_nonzero(sel & attacked)) / n if n else math.nan


def pr_curve(scores: CodeScores | np.ndarray, sim: AttackedSimulation,
             attacks: Sequence[str] | None = None,
             thresholds: Sequence[float] | None = None) -> list[dict[str, float]]:
    """Precision and recall over the score threshold: recall of ``attacks`` (default all),
    precision over every flagged code, or with ``attacks`` over the codes flagged by the rules
    that catch them."""
    s = scores.score if isinstance(scores, CodeScores) else scores
    nodes, attack, obs = _truth(sim)
    attacked = np.zeros(len(s), dtype=bool)
    attacked[nodes] = True
    m = obs if attacks is None else obs & np.isin(attack, list(attacks))
    target = np.unique(nodes[m])
    ths = np.round(np.arange(0.05, 1.0, 0.05), 2) if thresholds is None else thresholds
    rows = []
    for t in ths:
        f = s >= t
        n = int(f.sum())
        tp = int(np.count_nonzero(f & attacked))
        prec = tp / n if n else math.nan
        if attacks is not None:
            prec = _rule_precision(scores, f, attacked, target)
        rows.append({"threshold": float(t), "precision": prec,
                     "recall": float(f[target].mean()) if len(target) else math.nan,
                     "flagged": n})
    return rows


def reliability(scores: CodeScores | np.ndarray, sim: AttackedSimulation,
                bins: Sequence[float] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95,
                                         1.0001)) -> list[dict[str, float]]:
    """Reliability table of scores read as probabilities: per score bin, the codes with an
    alert in it, their mean score and the share that really are attacked."""
    s = scores.score if isinstance(scores, CodeScores) else scores
    nodes, _, _ = _truth(sim)
    attacked = np.zeros(len(s), dtype=bool)
    attacked[nodes] = True
    rows = []
    for lo, hi in zip(bins[:-1], bins[1:], strict=True):
        m = (s >= lo) & (s < hi)
        n = int(m.sum())
        rows.append({"lo": float(lo), "hi": float(min(hi, 1.0)), "codes": n,
                     "mean_score": float(s[m].mean()) if n else math.nan,
                     "attacked_share": float(attacked[m].mean()) if n else math.nan})
    return rows
