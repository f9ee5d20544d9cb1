"""The transparency log: RFC 9162 Merkle trees, proofs and their verifiers, and signed
checkpoints (C2SP tlog-checkpoint as a C2SP signed note) under an Ed25519 log key.

This package is pure: it knows nothing of registries or storage; a registry keeps its log with
`antifake.storage.tlog` and builds evidence bundles with `antifake.evidence`.
"""

from antifake.log.merkle import (
    EMPTY_ROOT,
    ConsistencyProof,
    InclusionProof,
    MemoryTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from antifake.log.note import (
    Checkpoint,
    LogKey,
    NoteVerifier,
    format_checkpoint,
    open_checkpoint,
    open_note,
    parse_checkpoint,
)

__all__ = [
    "Checkpoint",
    "LogKey",
    "NoteVerifier",
    "format_checkpoint",
    "open_checkpoint",
    "open_note",
    "parse_checkpoint",
    "EMPTY_ROOT",
    "ConsistencyProof",
    "InclusionProof",
    "MemoryTree",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_hash",
    "verify_consistency",
    "verify_inclusion",
]
