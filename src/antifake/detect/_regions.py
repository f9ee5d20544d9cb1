"""Region lookups on the kernels' lat/lon grid (see `antifake.detect.TraceData.regions`)."""

from __future__ import annotations

from typing import Any

import numpy as np


def regions_at(regions: dict[str, Any], lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Region ids of points (-1 outside every region, or no location)."""
    out = np.full(len(lat), -1, dtype=np.int64)
    if not regions["have_regions"] or not len(lat):
        return out
    ok = np.isfinite(lat) & np.isfinite(lon)
    i = np.floor((lat[ok] - regions["grid_lat0"]) * regions["grid_inv"]).astype(np.int64)
    j = np.floor((lon[ok] - regions["grid_lon0"]) * regions["grid_inv"]).astype(np.int64)
    inside = (i >= 0) & (i < regions["grid_nlat"]) & (j >= 0) & (j < regions["grid_nlon"])
    got = np.full(len(i), -1, dtype=np.int64)
    got[inside] = regions["grid"][i[inside] * regions["grid_nlon"] + j[inside]]
    out[ok] = got
    return out
