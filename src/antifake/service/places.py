"""Coarse place names for scan positions: the nearest of Vietnam's larger cities within
60 km (no geocoding service, no external call)."""

from __future__ import annotations

import math

__all__ = ["nearest_place"]

_CITIES = (
    ("Hà Nội", 21.03, 105.85), ("TP Hồ Chí Minh", 10.78, 106.70), ("Hải Phòng", 20.86, 106.68),
    ("Đà Nẵng", 16.05, 108.20), ("Cần Thơ", 10.03, 105.78), ("Huế", 16.46, 107.59),
    ("Nha Trang", 12.24, 109.19), ("Vinh", 18.68, 105.68), ("Biên Hòa", 10.95, 106.82),
    ("Buôn Ma Thuột", 12.67, 108.04), ("Quy Nhơn", 13.78, 109.22), ("Đà Lạt", 11.94, 108.44),
    ("Hạ Long", 20.95, 107.08), ("Thái Nguyên", 21.59, 105.85), ("Nam Định", 20.42, 106.17),
    ("Vũng Tàu", 10.35, 107.08), ("Long Xuyên", 10.39, 105.44), ("Rạch Giá", 10.01, 105.08),
    ("Thanh Hóa", 19.81, 105.78), ("Pleiku", 13.98, 108.00),
)


def nearest_place(lat: float | None, lon: float | None, max_km: float = 60.0) -> str | None:
    """The nearest listed city within ``max_km``, else None."""
    if lat is None or lon is None or not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    best, best_d = None, max_km
    for name, la, lo in _CITIES:
        dx = math.radians(lo - lon) * math.cos(math.radians((la + lat) / 2))
        d = 6371.0 * math.hypot(math.radians(la - lat), dx)
        if d <= best_d:
            best, best_d = name, d
    return best
