"""Detection on noisy field simulations, one line per seed (issue 15's held-out table).

    python benchmarks/field_seeds.py [--items 100000] [--seeds 1,201,202,203,301,302]
                                     [--no-phones]

Prints precision, recall, the oracle bound on recall (`antifake.research.oracle`: the attacked
codes no detector can tell from an honest pattern, and the genuine codes that leave the
handover pattern, which a rule flagging those copies would flag too), honest travellers and
handed-over items flagged, detection time and recall per attack kind. The rules
were tuned on seeds 101 to 106 only. ``--no-phones``: the detector without its phone rules
(``DetectConfig(use_phones=False)``: the rules as they were before owners kept their phone).
"""

from __future__ import annotations

import argparse
import time

from antifake.detect import DetectConfig, detect
from antifake.research.field import field_simulation
from antifake.research.metrics import code_scores, score_table
from antifake.research.oracle import honest_lookalikes, recall_bounds
from antifake.research.pipeline import research_chain


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--seeds", default="1,201,202,203,301,302")
    ap.add_argument("--no-phones", action="store_true")
    args = ap.parse_args()
    config = DetectConfig(use_phones=not args.no_phones)
    for seed in (int(s) for s in args.seeds.split(",")):
        fs = field_simulation(research_chain(args.items, seed), seed=seed)
        t0 = time.perf_counter()
        alerts = detect(fs.data, config=config)
        t_det = time.perf_counter() - t0
        tab = score_table(code_scores(alerts, fs.data), fs.data, 0.5, fs.travellers,
                          fs.handovers)
        b = recall_bounds(fs)
        amb = b["ambiguous"]
        look = len(honest_lookalikes(fs))
        per = {k: round(v["recall"], 2) for k, v in tab["per_attack"].items()}
        print(f"seed {seed}: P {tab['precision']:.3f} R {tab['recall']:.4f} "
              f"bound {b['recall_bound']:.4f} (ambiguous {amb}, honest lookalikes {look}) "
              f"travellers {100 * tab['travellers_flagged']:.2f} % "
              f"handovers {100 * tab['handovers_flagged']:.2f} % fp {tab['false_positives']} "
              f"detect {t_det:.2f} s {per}", flush=True)


if __name__ == "__main__":
    main()
