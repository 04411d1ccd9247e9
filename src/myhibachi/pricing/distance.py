"""Driving distance from a station to a venue ZIP code, offline by default.

The embedded default needs no network: US ZIP centroids from the compact table of `zip_table` (built from the
`zipcodes` package), great-circle distance
(`haversine`) times the station's road factor, rounded half-up to 0.1 mile. A routing service can replace it
behind the same `DistanceEstimator` protocol.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Protocol

from haversine import Unit, haversine

from myhibachi.pricing.zip_table import zip_table


class UnknownZip(LookupError):
    pass


class DistanceEstimator(Protocol):
    def miles(self, origin: tuple[float, float], zip_code: str, road_factor: Decimal) -> Decimal: ...


def zip_centroid(zip_code: str) -> tuple[float, float]:
    centroid = zip_table().centroid(zip_code)
    if centroid is None:
        raise UnknownZip(zip_code)
    return centroid


def zip_time_zone(zip_code: str) -> str | None:
    """The IANA time zone of a US ZIP code (offline, from the same table), or None when unknown."""
    return zip_table().time_zone(zip_code)


class ZipCentroidDistance:
    def miles(self, origin: tuple[float, float], zip_code: str, road_factor: Decimal) -> Decimal:
        return _centroid_miles(origin, zip_code, road_factor)


@lru_cache(maxsize=4096)  # a visitor re-prices a party at one venue as they change it: 7 % of a quote
def _centroid_miles(origin: tuple[float, float], zip_code: str, road_factor: Decimal) -> Decimal:
    straight = Decimal(str(haversine(origin, zip_centroid(zip_code), unit=Unit.MILES)))
    return (straight * road_factor).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
