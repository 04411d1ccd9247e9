"""Demo data for the embedded default: three stations, one user per role and two chefs per station working
every day (so the demo takes bookings at once). Safe to run again."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from myhibachi.auth.commands import create_user
from myhibachi.auth.models import User
from myhibachi.auth.permissions import Role
from myhibachi.auth.principal import SYSTEM
from myhibachi.auth.schemas import UserCreate
from myhibachi.chefs.commands import create_chef
from myhibachi.chefs.models import Chef
from myhibachi.chefs.schemas import ChefCreate
from myhibachi.core.db import Database
from myhibachi.settings import Settings
from myhibachi.stations.commands import ensure_station
from myhibachi.stations.schemas import Address, StationCreate

DEMO_PASSWORD = "hibachi-demo-pass"  # noqa: S105 - printed to the console for the demo only

DEMO_STATIONS = [
    StationCreate(code="FRE", name="Fremont CA", timezone="America/Los_Angeles", latitude=37.5483,
                  longitude=-121.9886, address=Address(line1="39055 Hastings St", city="Fremont", state="CA",
                                                       zip_code="94538")),
    StationCreate(code="SAC", name="Sacramento CA", timezone="America/Los_Angeles", latitude=38.5816,
                  longitude=-121.4944, address=Address(line1="915 I St", city="Sacramento", state="CA",
                                                       zip_code="95814")),
    StationCreate(code="AUS", name="Austin TX", timezone="America/Chicago", latitude=30.2672,
                  longitude=-97.7431, address=Address(line1="301 W 2nd St", city="Austin", state="TX",
                                                      zip_code="78701")),
]

DEMO_USERS = [  # (email, name, role, station code)
    ("superadmin@example.com", "Sam Super", Role.super_admin, None),
    ("admin@example.com", "Ada Admin", Role.admin, "FRE"),
    ("manager@example.com", "Mona Manager", Role.manager, "FRE"),
    ("support@example.com", "Sunny Support", Role.support, "FRE"),
    ("chef@example.com", "Chen Chef", Role.chef, "FRE"),
]

DEMO_CHEFS = {  # station code -> (chef name, linked demo user's email or None); each works every day
    "FRE": [("Chen Chef", "chef@example.com"), ("Kenji Sato", None)],
    "SAC": [("Hana Mori", None), ("Diego Ramos", None)],
    "AUS": [("Tomo Ito", None), ("Riley Brooks", None)],
}


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: str
    station: str | None
    created: bool


async def seed_demo(db: Database, settings: Settings) -> list[DemoLogin]:
    logins: list[DemoLogin] = []
    async with db.transaction() as session:
        stations = {data.code: (await ensure_station(session, data))[0] for data in DEMO_STATIONS}
        for email, name, role, code in DEMO_USERS:
            exists = await session.scalar(select(User.id).where(User.email == email)) is not None
            if not exists:
                await create_user(session, settings, SYSTEM, UserCreate(
                    email=email, name=name, role=role, password=DEMO_PASSWORD,
                    station_id=stations[code].id if code else None))
            logins.append(DemoLogin(email=email, role=role.value, station=code, created=not exists))
        for code, chefs in DEMO_CHEFS.items():
            station_id = stations[code].id
            for name, email in chefs:
                if await session.scalar(select(Chef.id).where(Chef.station_id == station_id, Chef.name == name)):
                    continue
                user_id = await session.scalar(select(User.id).where(User.email == email)) if email else None
                await create_chef(session, SYSTEM, station_id, ChefCreate(name=name, user_id=user_id))
    return logins
