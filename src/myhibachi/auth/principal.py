"""The authenticated staff member of a request, and the one place that authorizes (permission, station)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import ColumnElement, Select

from myhibachi.auth.permissions import GRANTABLE_ROLES, Permission, Role, permissions_of
from myhibachi.core.errors import NotFound, PermissionDenied

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Principal:
    user_id: int | None  # None: the system itself (CLI, seed), acting as a super admin
    email: str
    name: str
    is_super_admin: bool
    session_id: int | None = None
    roles: dict[int, Role] = field(default_factory=dict)  # station_id -> role

    def role_at(self, station_id: int) -> Role | None:
        return Role.super_admin if self.is_super_admin else self.roles.get(station_id)

    def can(self, permission: Permission, station_id: int) -> bool:
        role = self.role_at(station_id)
        return role is not None and permission in permissions_of(role)

    def stations_with(self, permission: Permission) -> set[int] | None:
        """Stations where the permission holds; None means every station (super admin)."""
        if self.is_super_admin:
            return None
        return {sid for sid, role in self.roles.items() if permission in permissions_of(role)}

    def has_anywhere(self, permission: Permission) -> bool:
        stations = self.stations_with(permission)
        return stations is None or bool(stations)

    def authorize(self, permission: Permission, station_id: int | None = None, *,
                  missing: str = "No such station.") -> None:
        """404 for a station the principal has nothing to do with, 403 for a missing permission. `missing` is what
        an absent record answers, when the station is a record's: another station's then answers the same."""
        if station_id is None:
            allowed = self.has_anywhere(permission)
        else:
            if self.role_at(station_id) is None:
                self._denied(permission, station_id, "not_member")
                raise NotFound(missing)
            allowed = self.can(permission, station_id)
        if not allowed:
            self._denied(permission, station_id, "missing_permission")
            raise PermissionDenied(f"Your role does not allow `{permission.value}` here.")

    def deny(self, permission: Permission, station_id: int | None, detail: str) -> PermissionDenied:
        self._denied(permission, station_id, detail)
        return PermissionDenied(detail)

    def hide(self, permission: Permission, station_id: int | None, detail: str) -> NotFound:
        """A record outside the principal's scope: logged like any denial, answered as if it did not exist."""
        self._denied(permission, station_id, "out_of_scope")
        return NotFound(detail)

    def grantable_roles(self, station_id: int) -> frozenset[Role]:
        role = self.role_at(station_id)
        if role is None or not self.can(Permission.users_manage, station_id):
            return frozenset()
        return GRANTABLE_ROLES[role]

    def _denied(self, permission: Permission, station_id: int | None, reason: str) -> None:
        log.warning("permission_denied", user_id=self.user_id, permission=permission.value,
                    station_id=station_id, reason=reason)



SYSTEM = Principal(user_id=None, email="system", name="MyHibachi operator", is_super_admin=True)


def scope_to_stations(stmt: Select[Any], principal: Principal, permission: Permission,
                      station_column: ColumnElement[Any] | Any) -> Select[Any]:
    """The station-scoping choke point: rows outside the principal's stations simply do not exist."""
    stations = principal.stations_with(permission)
    if stations is None:
        return stmt
    return stmt.where(station_column.in_(sorted(stations)))


def station_ids_in_scope(principal: Principal, permission: Permission,
                         requested: Iterable[int] | None = None) -> set[int] | None:
    stations = principal.stations_with(permission)
    if requested is None:
        return stations
    wanted = set(requested)
    return wanted if stations is None else wanted & stations
