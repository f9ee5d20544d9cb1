"""Calibrated scores: a map from each rule's raw score to the probability that a code it flags
is really attacked, fitted on simulated data with ground truth.

[`fit_calibration`][antifake.research.calibrate.fit_calibration] pools the alerts of a simulation
by kind and raw score, counts how many name attacked codes, and fits a non-decreasing step
function (isotonic regression, pool-adjacent-violators) with a little smoothing towards 1/2 for
scores seen rarely. [`Calibration.apply`][antifake.research.calibrate.Calibration.apply] rescales
alerts (evidence, times and reasons kept); the result's scores read as probabilities on data like
the data it was fitted on (the same attack base rates).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from antifake.detect import KINDS, Alert
from antifake.research.attacks import AttackedSimulation

__all__ = ["Calibration", "fit_calibration"]


def _pav(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Pool-adjacent-violators: the non-decreasing fit of ``y`` with weights ``w``."""
    vals: list[float] = []
    wts: list[float] = []
    sizes: list[int] = []
    for yi, wi in zip(y.tolist(), w.tolist(), strict=True):
        vals.append(yi)
        wts.append(wi)
        sizes.append(1)
        while len(vals) > 1 and vals[-2] > vals[-1]:
            wsum = wts[-2] + wts[-1]
            v = (vals[-2] * wts[-2] + vals[-1] * wts[-1]) / wsum
            s = sizes[-2] + sizes[-1]
            vals[-2:] = [v]
            wts[-2:] = [wsum]
            sizes[-2:] = [s]
    return np.repeat(np.array(vals), sizes)


@dataclass
class Calibration:
    """Per alert kind: raw score points (ascending) and the probability from each point up."""

    points: dict[str, list[float]] = field(default_factory=dict)
    probs: dict[str, list[float]] = field(default_factory=dict)
    counts: dict[str, list[int]] = field(default_factory=dict)

    def probability(self, kind: str, raw: float) -> float:
        """The calibrated score of a raw score (raw itself for a kind never seen)."""
        pts = self.points.get(kind)
        if not pts:
            return float(raw)
        i = int(np.searchsorted(np.asarray(pts), raw + 1e-9, side="right")) - 1
        return float(self.probs[kind][max(i, 0)])

    def apply(self, alerts: Iterable[Alert]) -> list[Alert]:
        """The alerts with calibrated scores, ranked by score."""
        out = [Alert(a.kind, a.codes, round(self.probability(a.kind, a.score), 4), a.evidence,
                     a.first_us, a.last_us, a.reason) for a in alerts]
        out.sort(key=lambda a: -a.score)
        return out

    def table(self) -> list[dict[str, Any]]:
        """Rows (kind, raw score, codes named, probability)."""
        return [{"kind": k, "raw": p, "codes": c, "probability": q}
                for k in self.points
                for p, q, c in zip(self.points[k], self.probs[k], self.counts[k], strict=True)]

    def to_json(self) -> str:
        return json.dumps({"points": self.points, "probs": self.probs, "counts": self.counts})

    @classmethod
    def from_json(cls, text: str) -> Calibration:
        d = json.loads(text)
        return cls(d["points"], d["probs"], d["counts"])


def fit_calibration(alerts: Iterable[Alert], sim: AttackedSimulation, *,
                    smoothing: float = 2.0,
                    more: Sequence[tuple[Iterable[Alert], AttackedSimulation]] = ()
                    ) -> Calibration:
    """Fit a calibration on ``alerts`` of ``sim`` (and the pairs of ``more``, pooled): per kind
    and raw score, the share of the codes those alerts name that are attacked, counting a code
    only under its strongest alerts (the score a reviewer sees for it)."""
    rows: dict[str, dict[float, list[int]]] = {k: {} for k in KINDS}
    for als, sm in [(alerts, sim), *more]:
        if sm.attacks is None:
            raise ValueError("calibration needs an attacked simulation (with ground truth)")
        attacked = set(sm.attacks.codes.tolist())
        als = list(als)
        best: dict[str, float] = {}
        for a in als:
            for c in a.codes:
                if a.score > best.get(c, -1.0):
                    best[c] = a.score
        for a in als:
            # a code counts where this alert is its strongest: a weak alert beside a strong
            # one says nothing of its own (the code's score is the strong one's)
            named = [c for c in a.codes if a.score >= best[c]]
            if not named:
                continue
            cell = rows[a.kind].setdefault(round(a.score, 3), [0, 0])
            cell[0] += sum(1 for c in named if c in attacked)
            cell[1] += len(named)
    cal = Calibration()
    for kind, cells in rows.items():
        if not cells:
            continue
        pts = sorted(cells)
        pos = np.array([cells[p][0] for p in pts], dtype=float)
        n = np.array([cells[p][1] for p in pts], dtype=float)
        y = (pos + 0.5 * smoothing) / (n + smoothing)
        fit = _pav(y, n + smoothing)
        cal.points[kind] = [float(p) for p in pts]
        cal.probs[kind] = [round(float(v), 4) for v in fit]
        cal.counts[kind] = [int(v) for v in n]
    return cal
