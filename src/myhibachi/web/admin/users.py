"""Admin pages: staff users of the chosen station (every user, for a super admin) — invite, change or take away a
station role, deactivate and reactivate — each confirmed first, all through the auth domain, which decides who may
grant which role (SPEC §3); the pages only offer what the signed-in role may do."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from pydantic import TypeAdapter, ValidationError

from myhibachi.auth import commands, queries
from myhibachi.auth.permissions import GRANTABLE_ROLES, STATION_ROLES, Permission, Role, permissions_of
from myhibachi.auth.principal import Principal
from myhibachi.auth.schemas import Reason, UserCreate, UserRead
from myhibachi.core.errors import FieldError, NotFound, ValidationFailed
from myhibachi.core.web import PathId
from myhibachi.stations.models import Station
from myhibachi.web.admin.pages import AdminVisit, Trouble, Visit, form_state, submit
from myhibachi.web.admin.render import staff_stations
from myhibachi.web.fields import record_id
from myhibachi.web.forms import field_errors

router = APIRouter(include_in_schema=False)
P = Permission
PAGE_SIZE = 50
REASON = TypeAdapter(Reason)
DONE = {"invited": "Invite sent: they choose a password from the link in the email.",
        "role": "Role changed: it applies on their next page or request.",
        "removed": "Removed from the station: their access there ended at once.",
        "deactivated": "Account deactivated: they are signed out everywhere and cannot sign in.",
        "reactivated": "Account reactivated: they can sign in again with their password."}
ABILITIES = {  # how a permission reads in a sentence "They can …"
    P.bookings_read: "see every booking", P.bookings_read_own: "see the events they cook",
    P.bookings_write: "create, edit and reschedule bookings", P.bookings_cancel: "cancel bookings",
    P.bookings_cancel_request: "ask for a booking to be cancelled", P.chefs_manage: "manage chefs and time off",
    P.chefs_own_time_off: "ask for their own time off", P.payments_read: "see payments",
    P.payments_record: "record payments", P.payments_refund: "refund payments",
    P.analytics_read: "see analytics", P.engagement: "handle leads, inbox and chat",
    P.newsletters_send: "send newsletters", P.stations_manage: "create and edit stations",
    P.rules_manage: "edit the business rules", P.audit_read: "read the audit log",
}


def role_name(role: Role | str) -> str:
    return Role(role).value.replace("_", " ")


def abilities(role: Role) -> list[str]:
    """What a role may do at a station, in words, in the order of the permission table."""
    said = [ABILITIES[p] for p in Permission if p in permissions_of(role) and p in ABILITIES]
    if P.users_manage in permissions_of(role) and GRANTABLE_ROLES[role]:
        managed = [role_name(r) for r in STATION_ROLES if r in GRANTABLE_ROLES[role]]
        said.append("invite and manage " + ", ".join(managed) + " users")
    return said


def offered_roles(principal: Principal, station_id: int) -> list[Role]:
    """The station roles this staff member may grant there (the domain refuses any other)."""
    grantable = principal.grantable_roles(station_id)
    return [role for role in STATION_ROLES if role in grantable]


def may_manage_account(principal: Principal, user: UserRead) -> bool:
    """Whether to offer deactivate / reactivate: only for someone whose every role the viewer may grant."""
    if user.id == principal.user_id or (user.is_super_admin and not principal.is_super_admin):
        return False
    return principal.is_super_admin or (bool(user.memberships) and all(
        m.role in principal.grantable_roles(m.station_id) for m in user.memberships))


def _invalid(errors: dict[str, str]) -> ValidationFailed:
    return ValidationFailed("Please check the highlighted fields; nothing was changed.", errors=[
        FieldError(field=name, message=message, type="value_error") for name, message in errors.items()])


def _reason(form: dict[str, str]) -> str:
    try:
        return REASON.validate_python(form.get("reason", ""))
    except ValidationError:
        raise _invalid({"reason": "Please say why, in a few words (3 to 500 characters)."}) from None


def _role(form: dict[str, str]) -> Role:
    try:
        return Role(form.get("role", ""))
    except ValueError:
        raise _invalid({"role": "Please choose one of the roles offered."}) from None


async def _page(visit: Visit, template: str, *, title: str, **context: Any) -> HTMLResponse:
    stations = await staff_stations(visit.session, visit.principal)
    return await visit.page(f"users/{template}", title=title, station_names={s.id: s.name for s in stations},
                            role_name=role_name, done=visit.notice(DONE), **context)


async def _managed_station(visit: Visit) -> Station:
    """The chosen station, where this staff member manages users (else the refusal page)."""
    station = await visit.station()
    visit.principal.authorize(P.users_manage, station.id)
    return station


# --- the list ----------------------------------------------------------------------------------------------------


@router.get("/admin/users", response_class=HTMLResponse)
async def users_list(visit: AdminVisit) -> Response:
    principal, asked = visit.principal, visit.request.query_params
    everyone = principal.is_super_admin and asked.get("scope") == "all"
    station = await visit.chosen() if everyone else await _managed_station(visit)
    listed = None if everyone or station is None else station.id
    query, after_id = asked.get("q", "").strip()[:100], record_id(asked.get("cursor"))
    users, next_id = await queries.list_users(visit.session, principal, station_id=listed, query=query or None,
                                              after_id=after_id, limit=PAGE_SIZE)
    params = {"station": str(station.id) if station else "", "scope": "all" if everyone else "", "q": query}
    params = {key: value for key, value in params.items() if value}
    return await _page(visit, "list.html", title="Users", station=station, users=users, everyone=everyone,
                       query=query, can_invite=station is not None and bool(offered_roles(principal, station.id)),
                       next_href=f"/admin/users?{urlencode({**params, 'cursor': next_id})}" if next_id else None,
                       first_href=f"/admin/users?{urlencode(params)}" if after_id else None)


# --- inviting ----------------------------------------------------------------------------------------------------


async def _invite_page(visit: Visit, form: dict[str, str] | None = None, trouble: Trouble | None = None) -> Response:
    station = await _managed_station(visit)
    roles = offered_roles(visit.principal, station.id)
    return await _page(visit, "invite.html", title="Invite a user", station=station,
                       roles=[(role, abilities(role)) for role in roles],
                       values=form or {"role": roles[-1].value if roles else ""}, **form_state(trouble),
                       invite_days=visit.runtime.settings.invite_days)


@router.get("/admin/users/new", response_class=HTMLResponse)
async def invite_form(visit: AdminVisit) -> Response:
    return await _invite_page(visit)


def invite_input(form: dict[str, str], station_id: int) -> UserCreate:
    try:
        return UserCreate.model_validate({"email": form.get("email", ""), "name": form.get("name", ""),
                                          "role": form.get("role", ""), "station_id": station_id})
    except ValidationError as exc:
        errors = field_errors(exc)
        if "role" in errors:
            errors["role"] = "Please choose one of the roles offered."
        if "email" in errors and "mixes alphabets" not in errors["email"]:  # that one says what to fix
            errors["email"] = "Please enter an email address, like name@example.com."
        raise _invalid(errors) from None


@router.post("/admin/users/new", response_class=HTMLResponse)
async def invite(visit: AdminVisit) -> Response:
    async def act(form: dict[str, str]) -> str:
        station = await visit.station()
        user = await commands.create_user(visit.session, visit.runtime.settings, visit.principal,
                                          invite_input(form, station.id))
        return f"/admin/users/{user.id}?station={station.id}&done=invited"

    return await submit(visit, act=act, show=lambda form, trouble: _invite_page(visit, form, trouble),
                        names={"": "email"})  # the one error naming no field: the email is taken


# --- one user ------------------------------------------------------------------------------------------------------


@router.get("/admin/users/{user_id}", response_class=HTMLResponse)
async def user_detail(user_id: PathId, visit: AdminVisit) -> Response:
    principal = visit.principal
    user = await queries.get_user(visit.session, principal, user_id)
    changeable = {m.station_id for m in user.memberships
                  if user.id != principal.user_id and m.role in principal.grantable_roles(m.station_id)}
    return await _page(visit, "detail.html", title=user.name, user=user, changeable=changeable,
                       may_manage=may_manage_account(principal, user),
                       offered={sid: offered_roles(principal, sid) for sid in changeable})


async def _member(visit: Visit, user_id: int, station_id: int) -> tuple[UserRead, Role]:
    """The user and their role at the station (404 when either is outside what the viewer manages)."""
    user = await queries.get_user(visit.session, visit.principal, user_id)
    role = next((m.role for m in user.memberships if m.station_id == station_id), None)
    if role is None:
        raise NotFound("This user has no role at this station.")
    return user, role


# --- changing a role -------------------------------------------------------------------------------------------------


async def _role_page(visit: Visit, user_id: int, station_id: int, wanted: str,
                     trouble: Trouble | None = None) -> Response:
    """Without a role `wanted`, the roles offered; with one, what the change means, to confirm."""
    principal = visit.principal
    user, current = await _member(visit, user_id, station_id)
    offered = [role for role in offered_roles(principal, station_id) if role != current]
    if current not in principal.grantable_roles(station_id) or not offered:
        raise principal.deny(P.users_manage, station_id,
                             f"Your role may not change the role of a {role_name(current)} here.")
    chosen = next((role for role in offered if role.value == wanted), None)
    gains = [a for a in abilities(chosen) if a not in abilities(current)] if chosen else []
    losses = [a for a in abilities(current) if chosen and a not in abilities(chosen)]
    return await _page(visit, "role.html", title=f"Change the role of {user.name}", user=user, station_id=station_id,
                       current=current, offered=offered, chosen=chosen, gains=gains, losses=losses,
                       **form_state(trouble))


@router.get("/admin/users/{user_id}/stations/{station_id}/role", response_class=HTMLResponse)
async def role_form(user_id: PathId, station_id: PathId, visit: AdminVisit) -> Response:
    return await _role_page(visit, user_id, station_id, visit.request.query_params.get("role", ""))


@router.post("/admin/users/{user_id}/stations/{station_id}/role", response_class=HTMLResponse)
async def change_role(user_id: PathId, station_id: PathId, visit: AdminVisit) -> Response:
    async def act(form: dict[str, str]) -> str | Response:
        if form.get("go") != "confirm":
            return await _role_page(visit, user_id, station_id, form.get("role", ""))
        await _member(visit, user_id, station_id)
        await commands.set_station_role(visit.session, visit.principal, station_id=station_id, user_id=user_id,
                                        role=_role(form))
        return f"/admin/users/{user_id}?done=role"

    return await submit(visit, act=act, show=lambda form, trouble: _role_page(visit, user_id, station_id,
                                                                               form.get("role", ""), trouble))


# --- removing from a station, deactivating, reactivating ------------------------------------------------------------


async def _confirm_page(visit: Visit, user: UserRead, action: str, station_id: int | None = None,
                        form: dict[str, str] | None = None, trouble: Trouble | None = None) -> Response:
    titles = {"remove": f"Remove {user.name} from a station", "deactivate": f"Deactivate {user.name}",
              "reactivate": f"Reactivate {user.name}"}
    role = next((m.role for m in user.memberships if m.station_id == station_id), None)
    return await _page(visit, "confirm.html", title=titles[action], user=user, action=action, station_id=station_id,
                       role=role, values=form or {}, **form_state(trouble), losses=abilities(role) if role else [])


async def _account_target(visit: Visit, user_id: int) -> UserRead:
    user = await queries.get_user(visit.session, visit.principal, user_id)
    if not may_manage_account(visit.principal, user):
        raise visit.principal.deny(P.users_manage, None, "You may not change this user's account.")
    return user


def _account_action(action: str) -> str:
    if action not in ("deactivate", "reactivate"):
        raise NotFound("No such page.")
    return action


@router.get("/admin/users/{user_id}/stations/{station_id}/remove", response_class=HTMLResponse)
async def remove_form(user_id: PathId, station_id: PathId, visit: AdminVisit) -> Response:
    user, role = await _member(visit, user_id, station_id)
    if role not in visit.principal.grantable_roles(station_id) or user.id == visit.principal.user_id:
        raise visit.principal.deny(P.users_manage, station_id, f"Your role may not remove a {role_name(role)} here.")
    return await _confirm_page(visit, user, "remove", station_id)


@router.post("/admin/users/{user_id}/stations/{station_id}/remove", response_class=HTMLResponse)
async def remove(user_id: PathId, station_id: PathId, visit: AdminVisit) -> Response:
    user, _ = await _member(visit, user_id, station_id)  # a read model: still as it was after a rollback

    async def act(form: dict[str, str]) -> str | Response:
        if form.get("go") != "confirm":
            return await _confirm_page(visit, user, "remove", station_id, form)
        await commands.revoke_station_role(visit.session, visit.principal, station_id=station_id, user_id=user_id,
                                           reason=_reason(form))
        return f"/admin/users?station={station_id}&done=removed"

    return await submit(visit, act=act, show=lambda form, trouble: _confirm_page(visit, user, "remove", station_id,
                                                                                  form, trouble))


@router.get("/admin/users/{user_id}/{action}", response_class=HTMLResponse)
async def account_form(user_id: PathId, action: str, visit: AdminVisit) -> Response:
    action = _account_action(action)
    return await _confirm_page(visit, await _account_target(visit, user_id), action)


@router.post("/admin/users/{user_id}/{action}", response_class=HTMLResponse)
async def change_account(user_id: PathId, action: str, visit: AdminVisit) -> Response:
    """Deactivate (with a reason) or reactivate: the same commands as the API's, which check the roles again."""
    action = _account_action(action)
    user = await queries.get_user(visit.session, visit.principal, user_id)  # a read model, as the rollback left it

    async def act(form: dict[str, str]) -> str | Response:
        if form.get("go") != "confirm":
            return await _confirm_page(visit, user, action, form=form)
        if action == "deactivate":
            await commands.deactivate_user(visit.session, visit.principal, user_id=user_id, reason=_reason(form))
        else:
            await commands.reactivate_user(visit.session, visit.principal, user_id=user_id)
        return f"/admin/users/{user_id}?done={action}d"

    return await submit(visit, act=act, show=lambda form, trouble: _confirm_page(visit, user, action, form=form,
                                                                                  trouble=trouble))
