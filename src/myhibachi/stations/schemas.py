"""Station API shapes (SPEC §4)."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from myhibachi.auth.permissions import Role
from myhibachi.core.text import single_line


def _valid_timezone(value: str) -> str:
    if value not in _timezones():
        raise ValueError("must be an IANA time zone such as America/Los_Angeles")
    return value


_tz_cache: set[str] = set()


def _timezones() -> set[str]:
    if not _tz_cache:
        _tz_cache.update(available_timezones())
    return _tz_cache


Timezone = Annotated[str, AfterValidator(_valid_timezone), Field(examples=["America/Los_Angeles"])]
StationCode = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z0-9-]{2,16}$")]
Text120 = single_line(120)
Latitude = Annotated[float, Field(ge=-90, le=90, strict=True)]
Longitude = Annotated[float, Field(ge=-180, le=180, strict=True)]


class Address(BaseModel):
    line1: single_line(200)
    city: single_line(100)
    state: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{2}$")]
    zip_code: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{5}$")]


class StationCreate(BaseModel):
    code: StationCode
    name: Text120
    timezone: Timezone
    address: Address
    latitude: Latitude
    longitude: Longitude

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "code": "SJC", "name": "San Jose CA", "timezone": "America/Los_Angeles",
        "address": {"line1": "1 Market St", "city": "San Jose", "state": "CA", "zip_code": "95113"},
        "latitude": 37.3382, "longitude": -121.8863}]})


class StationUpdate(BaseModel):
    """Only the fields sent are changed."""

    name: Text120 | None = None
    timezone: Timezone | None = None
    address: Address | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    is_active: Annotated[bool, Field(strict=True)] | None = None
    chefs_collect_balance: Annotated[bool, Field(strict=True, description=(
        "Chefs collect the balance at the event: their view of a booking shows what is due."))] | None = None

    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "San Jose & South Bay"}]})


class StationPublic(BaseModel):
    id: int
    code: str
    name: str
    timezone: str
    city: str
    state: str

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "id": 1, "code": "FRE", "name": "Fremont CA", "timezone": "America/Los_Angeles", "city": "Fremont",
        "state": "CA"}]})


class StationPlace(StationPublic):
    """An open station with where it cooks from, for pricing travel (the public API shows only StationPublic's
    fields: a subclass is serialized as the type a route declares)."""

    latitude: float
    longitude: float

    model_config = ConfigDict(frozen=True)


class StationRead(BaseModel):
    id: int
    code: str
    name: str
    timezone: str
    address: Address
    latitude: float
    longitude: float
    is_active: bool
    chefs_collect_balance: bool = Field(description="Chefs collect the balance at the event (they see it).")

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 1, "code": "FRE", "name": "Fremont CA", "timezone": "America/Los_Angeles",
        "address": {"line1": "39055 Hastings St", "city": "Fremont", "state": "CA", "zip_code": "94538"},
        "latitude": 37.5483, "longitude": -121.9886, "is_active": True, "chefs_collect_balance": False}]})


class MembershipResult(BaseModel):
    station_id: int
    user_id: int
    role: Role

    model_config = ConfigDict(json_schema_extra={"examples": [{"station_id": 1, "user_id": 7, "role": "support"}]})
