# BLAKE3 kernels (placeholder: filled in by the BLAKE3 kernel work)
