"""Chef roster API shapes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from myhibachi.chefs.models import EVERY_WEEKDAY, TimeOffStatus, daily_limit, works_on
from myhibachi.core.dates import EARLIEST_DAY, LATEST_DAY
from myhibachi.core.db import MAX_ID

ChefName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
UserId = Annotated[int, Field(ge=1, le=MAX_ID, strict=True,
                              description="A staff user holding the chef role at this station.")]
DailyLimit = Annotated[int, Field(ge=1, le=10, strict=True, description="Overrides the station's "
                                  "`chef_max_events_per_day`; null uses the station rule.")]
Weekday = Annotated[int, Field(ge=1, le=7, strict=True)]


def _sorted_unique(days: list[int]) -> list[int]:
    return sorted(set(days))


Weekdays = Annotated[list[Weekday], Field(max_length=7, description="ISO weekdays the chef works: 1 = Monday … "
                                          "7 = Sunday."), AfterValidator(_sorted_unique)]
LocalDay = Annotated[date, Field(ge=EARLIEST_DAY, le=LATEST_DAY,
                                 description="A station-local date (2000-01-01 to 2999-12-31).")]
TimeOffReason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class ChefCreate(BaseModel):
    name: ChefName
    user_id: UserId | None = None
    is_active: Annotated[bool, Field(strict=True)] = True
    max_events_per_day: DailyLimit | None = None
    working_weekdays: Weekdays = Field(default_factory=lambda: list(EVERY_WEEKDAY))

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "name": "Kenji Sato", "user_id": None, "is_active": True, "max_events_per_day": None,
        "working_weekdays": [1, 2, 3, 4, 5, 6, 7]}]})


class ChefUpdate(BaseModel):
    """Only the fields sent change; `user_id` and `max_events_per_day` may be set to null to clear them."""

    name: ChefName | None = None
    user_id: UserId | None = None
    is_active: Annotated[bool, Field(strict=True)] | None = None
    max_events_per_day: DailyLimit | None = None
    working_weekdays: Weekdays | None = None

    model_config = ConfigDict(json_schema_extra={"examples": [{"working_weekdays": [3, 4, 5, 6, 7],
                                                               "max_events_per_day": 2}]})


class ChefRead(BaseModel):
    id: int
    station_id: int
    name: str
    user_id: int | None
    is_active: bool
    max_events_per_day: int | None
    working_weekdays: list[int]

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "id": 7, "station_id": 1, "name": "Kenji Sato", "user_id": None, "is_active": True,
        "max_events_per_day": None, "working_weekdays": [1, 2, 3, 4, 5, 6, 7]}]})


class DutyChef(BaseModel):
    """What capacity needs of an active chef (cached with the station's roster)."""

    id: int
    working_weekdays: list[int]
    max_events_per_day: int | None

    def works_on(self, day: date) -> bool:
        return works_on(self.working_weekdays, day)

    def daily_limit(self, station_limit: int) -> int:
        return daily_limit(self.max_events_per_day, station_limit)


class StationRoster(BaseModel):
    """A station's active chefs and their approved time-off (chef id, first and last local date)."""

    chefs: list[DutyChef]
    time_off: list[tuple[int, date, date]]


class ChefOnDuty(BaseModel):
    id: int
    name: str
    user_id: int | None
    max_events_per_day: int = Field(description="This chef's limit for the day: their own or the station rule.")

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 7, "name": "Kenji Sato", "user_id": None, "max_events_per_day": 3}]})


class TimeOffCreate(BaseModel):
    first_day: LocalDay
    last_day: LocalDay
    reason: TimeOffReason | None = None

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "first_day": "2026-12-24", "last_day": "2026-12-26", "reason": "Family holiday"}]})

    @model_validator(mode="after")
    def _ordered(self) -> TimeOffCreate:
        if self.last_day < self.first_day:
            raise ValueError("last_day must be on or after first_day")
        return self


class TimeOffRead(BaseModel):
    id: int
    chef_id: int
    first_day: date
    last_day: date
    reason: str | None
    status: TimeOffStatus
    requested_by_user_id: int | None
    decided_by_user_id: int | None
    created_at: datetime
    decided_at: datetime | None

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "id": 3, "chef_id": 7, "first_day": "2026-12-24", "last_day": "2026-12-26", "reason": "Family holiday",
        "status": "requested", "requested_by_user_id": 5, "decided_by_user_id": None,
        "created_at": "2026-11-25T18:02:11Z", "decided_at": None}]})
