"""Research tools: the supply-chain simulator and the attacks injected into it, with ground
truth for evaluating detection; field noise with pluggable attacks, a literature baseline, and
the pipeline that regenerates every figure and table of ``docs/research.md``.

- [`antifake.research.sim`][antifake.research.sim] and
  [`antifake.research.attacks`][antifake.research.attacks]: the supply chain and its attacks.
- [`antifake.research.field`][antifake.research.field]: field noise (missed reads, phone clock
  skew, GPS noise, scans with no location, honest travellers) and copy attacks (fast, slow,
  crowd), with a registration interface for new attacks.
- [`antifake.research.baseline`][antifake.research.baseline]: the deterministic
  impossible-travel / duplicate-read rule of the trace-based clone detection literature.
- [`antifake.research.metrics`][antifake.research.metrics] and
  [`antifake.research.calibrate`][antifake.research.calibrate]: precision, recall, PR curves and
  calibration against ground truth.
- [`antifake.research.pipeline`][antifake.research.pipeline]: ``antifake research run``.
"""
