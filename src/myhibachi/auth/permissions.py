"""The permission table of SPEC §3 — the one place that says which role may do what."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    super_admin = "super_admin"  # global: a flag on the user, never a station membership
    admin = "admin"
    manager = "manager"
    support = "support"
    chef = "chef"


STATION_ROLES = (Role.admin, Role.manager, Role.support, Role.chef)


class Permission(StrEnum):
    stations_read = "stations.read"  # see the station's own record
    bookings_read = "bookings.read"
    bookings_read_own = "bookings.read_own"  # a chef: only the events they are assigned to
    bookings_write = "bookings.write"  # create / edit / reschedule
    bookings_cancel = "bookings.cancel"
    bookings_cancel_request = "bookings.cancel_request"  # support asks, an admin approves
    chefs_manage = "chefs.manage"  # roster, assignment, everyone's time-off
    chefs_own_time_off = "chefs.own_time_off"
    payments_read = "payments.read"
    payments_record = "payments.record"
    payments_refund = "payments.refund"
    analytics_read = "analytics.read"
    engagement = "engagement"  # leads, inbox, chat
    newsletters_send = "newsletters.send"
    stations_manage = "stations.manage"  # create / delete stations: super admin only
    rules_manage = "rules.manage"
    users_manage = "users.manage"  # which roles: see GRANTABLE_ROLES
    audit_read = "audit.read"


P = Permission
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.super_admin: frozenset(Permission),
    Role.admin: frozenset({
        P.stations_read, P.bookings_read, P.bookings_write, P.bookings_cancel, P.chefs_manage, P.payments_read,
        P.payments_record, P.payments_refund, P.analytics_read, P.engagement, P.newsletters_send,
        P.rules_manage, P.users_manage, P.audit_read,
    }),
    Role.manager: frozenset({
        P.stations_read, P.bookings_read, P.chefs_manage, P.payments_read, P.analytics_read, P.engagement,
        P.users_manage,
    }),
    Role.support: frozenset({
        P.stations_read, P.bookings_read, P.bookings_write, P.bookings_cancel_request, P.payments_read, P.engagement,
    }),
    Role.chef: frozenset({P.stations_read, P.bookings_read_own, P.chefs_own_time_off}),
}

# Which station roles a holder of `users.manage` may grant, change or take away at that station.
GRANTABLE_ROLES: dict[Role, frozenset[Role]] = {
    Role.super_admin: frozenset(STATION_ROLES),
    Role.admin: frozenset({Role.manager, Role.support, Role.chef}),
    Role.manager: frozenset({Role.chef}),
    Role.support: frozenset(),
    Role.chef: frozenset(),
}


def permissions_of(role: Role) -> frozenset[Permission]:
    return ROLE_PERMISSIONS[role]


# A role as a sentence names its holder: "Only an admin can …".
ROLE_WORDS: dict[Role, str] = {
    Role.super_admin: "a super admin", Role.admin: "an admin", Role.manager: "a manager",
    Role.support: "support staff", Role.chef: "a chef",
}


def roles_with(permission: Permission) -> tuple[Role, ...]:
    """The station roles that hold `permission`, in the table's order (a super admin holds every permission)."""
    return tuple(role for role in STATION_ROLES if permission in ROLE_PERMISSIONS[role])


def who_may(permission: Permission) -> str:
    """Who holds `permission`, in words read from the table: "an admin or support staff"."""
    names = [ROLE_WORDS[role] for role in roles_with(permission) or (Role.super_admin,)]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
