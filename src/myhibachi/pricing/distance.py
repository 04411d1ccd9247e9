"""Driving distance from a station to a venue ZIP code, offline by default.

The embedded default needs no network: US ZIP centroids from the `zipcodes` package, great-circle distance
(`haversine`) times the station's road factor, rounded half-up to 0.1 mile. A routing service can replace it
behind the same `DistanceEstimator` protocol.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any, Protocol

import zipcodes
from haversine import Unit, haversine


class UnknownZip(LookupError):
    pass


class DistanceEstimator(Protocol):
    def miles(self, origin: tuple[float, float], zip_code: str, road_factor: Decimal) -> Decimal: ...


@lru_cache(maxsize=4096)
def _zip_record(zip_code: str) -> dict[str, Any] | None:
    try:
        matches = zipcodes.matching(zip_code)
    except (TypeError, ValueError):
        matches = []
    return matches[0] if matches else None


def zip_centroid(zip_code: str) -> tuple[float, float]:
    record = _zip_record(zip_code)
    if record is None:
        raise UnknownZip(zip_code)
    return float(record["lat"]), float(record["long"])


def zip_time_zone(zip_code: str) -> str | None:
    """The IANA time zone of a US ZIP code (offline, from the same package), or None when unknown."""
    record = _zip_record(zip_code)
    return (record.get("timezone") or None) if record else None


class ZipCentroidDistance:
    def miles(self, origin: tuple[float, float], zip_code: str, road_factor: Decimal) -> Decimal:
        straight = Decimal(str(haversine(origin, zip_centroid(zip_code), unit=Unit.MILES)))
        return (straight * road_factor).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
