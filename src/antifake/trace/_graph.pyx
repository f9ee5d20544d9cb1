# cython: language_level=3
"""Trace-graph kernels over CSR snapshots (placeholder)."""
