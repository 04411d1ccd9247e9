"""Driving distance from a station to a venue ZIP code, offline by default.

The embedded default needs no network: US ZIP centroids from the `zipcodes` package, great-circle distance
(`haversine`) times the station's road factor, rounded half-up to 0.1 mile. A routing service can replace it
behind the same `DistanceEstimator` protocol.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Protocol

import zipcodes
from haversine import Unit, haversine


class UnknownZip(LookupError):
    pass


class DistanceEstimator(Protocol):
    def miles(self, origin: tuple[float, float], zip_code: str, road_factor: Decimal) -> Decimal: ...


@lru_cache(maxsize=4096)
def zip_centroid(zip_code: str) -> tuple[float, float]:
    try:
        matches = zipcodes.matching(zip_code)
    except (TypeError, ValueError):
        matches = []
    if not matches:
        raise UnknownZip(zip_code)
    return float(matches[0]["lat"]), float(matches[0]["long"])


class ZipCentroidDistance:
    def miles(self, origin: tuple[float, float], zip_code: str, road_factor: Decimal) -> Decimal:
        straight = Decimal(str(haversine(origin, zip_centroid(zip_code), unit=Unit.MILES)))
        return (straight * road_factor).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
