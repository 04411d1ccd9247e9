"""Admin pages: staff users of the chosen station (every user, for a super admin) — invite, change or take away a
station role, deactivate and reactivate — each confirmed first, all through the auth domain, which decides who may
grant which role (SPEC §3); the pages only offer what the signed-in role may do."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import TypeAdapter, ValidationError

from myhibachi.auth import commands, queries
from myhibachi.auth.permissions import GRANTABLE_ROLES, STATION_ROLES, Permission, Role, permissions_of
from myhibachi.auth.principal import Principal
from myhibachi.auth.schemas import Reason, UserCreate, UserRead
from myhibachi.core.errors import DomainError, FieldError, NotFound, PermissionDenied, ValidationFailed
from myhibachi.core.web import DbSession, PathId, RuntimeDep, discard_changes
from myhibachi.stations.models import Station
from myhibachi.web.admin.render import admin_page, refusal_page, staff_stations
from myhibachi.web.admin.session import Staff, checked_form, chosen_station
from myhibachi.web.forms import FormRejected, field_errors

router = APIRouter(include_in_schema=False)
P = Permission
PAGE_SIZE = 50
REASON = TypeAdapter(Reason)
NO_STATION = NotFound("You are not assigned to a station yet. Ask an admin to add you to one.")
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


async def _page(request: Request, runtime: Any, session: Any, principal: Principal, template: str, *, title: str,
                **context: Any) -> HTMLResponse:
    stations = await staff_stations(session, principal)
    return await admin_page(request, runtime, session, principal, f"users/{template}", title=title,
                            station_names={s.id: s.name for s in stations}, role_name=role_name,
                            done=DONE.get(request.query_params.get("done", "")), **context)


async def _failed(request: Request, runtime: Any, session: Any, principal: Principal,
                  exc: DomainError) -> Response | None:
    """Undo what the command wrote; a refusal is answered as a page, anything else goes back to the form."""
    await discard_changes(session)
    if isinstance(exc, PermissionDenied | NotFound):
        return await refusal_page(request, runtime, session, principal, exc)
    return None


# --- the list ----------------------------------------------------------------------------------------------------


async def _listed_station(request: Request, session: Any, principal: Principal) -> Station | None:
    return chosen_station(request, principal, await staff_stations(session, principal))


@router.get("/admin/users", response_class=HTMLResponse)
async def users_list(request: Request, principal: Staff, session: DbSession, runtime: RuntimeDep) -> Response:
    station = await _listed_station(request, session, principal)
    everyone = principal.is_super_admin and request.query_params.get("scope") == "all"
    query = request.query_params.get("q", "").strip()[:100]
    cursor = request.query_params.get("cursor", "")
    after_id = int(cursor) if cursor.isdigit() and len(cursor) <= 18 else None
    try:
        if station is None and not everyone:
            raise NO_STATION
        if not everyone:
            assert station is not None
            principal.authorize(P.users_manage, station.id)
        users, next_id = await queries.list_users(session, principal, station_id=None if everyone else station.id,
                                                  query=query or None, after_id=after_id, limit=PAGE_SIZE)
    except (PermissionDenied, NotFound) as exc:
        return await refusal_page(request, runtime, session, principal, exc)
    params = {"station": str(station.id) if station else "", "scope": "all" if everyone else "", "q": query}
    params = {key: value for key, value in params.items() if value}
    return await _page(request, runtime, session, principal, "list.html", title="Users", station=station,
                       users=users, everyone=everyone, query=query,
                       can_invite=station is not None and bool(offered_roles(principal, station.id)),
                       next_href=f"/admin/users?{urlencode({**params, 'cursor': next_id})}" if next_id else None,
                       first_href=f"/admin/users?{urlencode(params)}" if after_id else None)


# --- inviting ----------------------------------------------------------------------------------------------------


async def _invite_page(request: Request, runtime: Any, session: Any, principal: Principal, *,
                       values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                       alert: str | None = None, status: int = 200) -> Response:
    station = await _listed_station(request, session, principal)
    try:
        if station is None:
            raise NO_STATION
        principal.authorize(P.users_manage, station.id)
    except (PermissionDenied, NotFound) as exc:
        return await refusal_page(request, runtime, session, principal, exc)
    roles = offered_roles(principal, station.id)
    return await _page(request, runtime, session, principal, "invite.html", title="Invite a user", station=station,
                       roles=[(role, abilities(role)) for role in roles],
                       values=values or {"role": roles[-1].value if roles else ""}, errors=errors or {},
                       alert=alert, status=status, invite_days=runtime.settings.invite_days)


@router.get("/admin/users/new", response_class=HTMLResponse)
async def invite_form(request: Request, principal: Staff, session: DbSession, runtime: RuntimeDep) -> Response:
    return await _invite_page(request, runtime, session, principal)


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
async def invite(request: Request, principal: Staff, session: DbSession, runtime: RuntimeDep) -> Response:
    station = await _listed_station(request, session, principal)
    try:
        form = await checked_form(request)
    except FormRejected as rejected:
        return await _invite_page(request, runtime, session, principal, values=rejected.form, alert=rejected.message,
                                  status=rejected.status)
    try:
        if station is None:
            raise NO_STATION
        user = await commands.create_user(session, runtime.settings, principal, invite_input(form, station.id))
    except DomainError as exc:
        refusal = await _failed(request, runtime, session, principal, exc)
        errors = field_errors(exc) if isinstance(exc, ValidationFailed) and exc.errors else {}
        if exc.status == 409:
            errors["email"] = exc.detail
        return refusal or await _invite_page(request, runtime, session, principal, values=form, errors=errors,
                                             alert=exc.detail, status=exc.status)
    return RedirectResponse(f"/admin/users/{user.id}?station={station.id}&done=invited", status_code=303)


# --- one user ------------------------------------------------------------------------------------------------------


@router.get("/admin/users/{user_id}", response_class=HTMLResponse)
async def user_detail(user_id: PathId, request: Request, principal: Staff, session: DbSession,
                      runtime: RuntimeDep) -> Response:
    try:
        user = await queries.get_user(session, principal, user_id)
    except (PermissionDenied, NotFound) as exc:
        return await refusal_page(request, runtime, session, principal, exc)
    changeable = {m.station_id for m in user.memberships
                  if user.id != principal.user_id and m.role in principal.grantable_roles(m.station_id)}
    return await _page(request, runtime, session, principal, "detail.html", title=user.name, user=user,
                       changeable=changeable, may_manage=may_manage_account(principal, user),
                       offered={sid: offered_roles(principal, sid) for sid in changeable})


async def _member(session: Any, principal: Principal, user_id: int, station_id: int) -> tuple[UserRead, Role]:
    """The user and their role at the station (404 when either is outside what the viewer manages)."""
    user = await queries.get_user(session, principal, user_id)
    role = next((m.role for m in user.memberships if m.station_id == station_id), None)
    if role is None:
        raise NotFound("This user has no role at this station.")
    return user, role


# --- changing a role -------------------------------------------------------------------------------------------------


async def _role_page(request: Request, runtime: Any, session: Any, principal: Principal, user_id: int,
                     station_id: int, wanted: str, *, errors: dict[str, str] | None = None,
                     alert: str | None = None, status: int = 200) -> Response:
    try:
        user, current = await _member(session, principal, user_id, station_id)
        offered = [role for role in offered_roles(principal, station_id) if role != current]
        if current not in principal.grantable_roles(station_id) or not offered:
            raise principal.deny(P.users_manage, station_id,
                                 f"Your role may not change the role of a {role_name(current)} here.")
    except (PermissionDenied, NotFound) as exc:
        return await refusal_page(request, runtime, session, principal, exc)
    chosen = next((role for role in offered if role.value == wanted), None)
    gains = [a for a in abilities(chosen) if a not in abilities(current)] if chosen else []
    losses = [a for a in abilities(current) if chosen and a not in abilities(chosen)]
    return await _page(request, runtime, session, principal, "role.html", title=f"Change the role of {user.name}",
                       user=user, station_id=station_id, current=current, offered=offered, chosen=chosen,
                       gains=gains, losses=losses, errors=errors or {}, alert=alert, status=status)


@router.get("/admin/users/{user_id}/stations/{station_id}/role", response_class=HTMLResponse)
async def role_form(user_id: PathId, station_id: PathId, request: Request, principal: Staff, session: DbSession,
                    runtime: RuntimeDep) -> Response:
    """Without `?role=` the roles offered; with one, what the change means, to confirm."""
    return await _role_page(request, runtime, session, principal, user_id, station_id,
                            request.query_params.get("role", ""))


@router.post("/admin/users/{user_id}/stations/{station_id}/role", response_class=HTMLResponse)
async def change_role(user_id: PathId, station_id: PathId, request: Request, principal: Staff, session: DbSession,
                      runtime: RuntimeDep) -> Response:
    try:
        form = await checked_form(request)
    except FormRejected as rejected:
        return await _role_page(request, runtime, session, principal, user_id, station_id,
                                rejected.form.get("role", ""), alert=rejected.message, status=rejected.status)
    if form.get("go") != "confirm":
        return await _role_page(request, runtime, session, principal, user_id, station_id, form.get("role", ""))
    try:
        await _member(session, principal, user_id, station_id)
        try:
            role = Role(form.get("role", ""))
        except ValueError:
            raise _invalid({"role": "Please choose one of the roles offered."}) from None
        await commands.set_station_role(session, principal, station_id=station_id, user_id=user_id, role=role)
    except DomainError as exc:
        refusal = await _failed(request, runtime, session, principal, exc)
        return refusal or await _role_page(request, runtime, session, principal, user_id, station_id, "",
                                           errors=field_errors(exc) if exc.errors else {}, alert=exc.detail,
                                           status=exc.status)
    return RedirectResponse(f"/admin/users/{user_id}?done=role", status_code=303)


# --- removing from a station, deactivating, reactivating ------------------------------------------------------------


async def _confirm_page(request: Request, runtime: Any, session: Any, principal: Principal, user: UserRead, *,
                        action: str, station_id: int | None = None, values: dict[str, str] | None = None,
                        errors: dict[str, str] | None = None, alert: str | None = None,
                        status: int = 200) -> Response:
    titles = {"remove": f"Remove {user.name} from a station", "deactivate": f"Deactivate {user.name}",
              "reactivate": f"Reactivate {user.name}"}
    role = next((m.role for m in user.memberships if m.station_id == station_id), None)
    return await _page(request, runtime, session, principal, "confirm.html", title=titles[action], user=user,
                       action=action, station_id=station_id, role=role, values=values or {}, errors=errors or {},
                       alert=alert, status=status, losses=abilities(role) if role else [])


async def _account_target(session: Any, principal: Principal, user_id: int) -> UserRead:
    user = await queries.get_user(session, principal, user_id)
    if not may_manage_account(principal, user):
        raise principal.deny(P.users_manage, None, "You may not change this user's account.")
    return user


@router.get("/admin/users/{user_id}/stations/{station_id}/remove", response_class=HTMLResponse)
async def remove_form(user_id: PathId, station_id: PathId, request: Request, principal: Staff, session: DbSession,
                      runtime: RuntimeDep) -> Response:
    try:
        user, role = await _member(session, principal, user_id, station_id)
        if role not in principal.grantable_roles(station_id) or user.id == principal.user_id:
            raise principal.deny(P.users_manage, station_id, f"Your role may not remove a {role_name(role)} here.")
    except (PermissionDenied, NotFound) as exc:
        return await refusal_page(request, runtime, session, principal, exc)
    return await _confirm_page(request, runtime, session, principal, user, action="remove", station_id=station_id)


@router.post("/admin/users/{user_id}/stations/{station_id}/remove", response_class=HTMLResponse)
async def remove(user_id: PathId, station_id: PathId, request: Request, principal: Staff, session: DbSession,
                 runtime: RuntimeDep) -> Response:
    try:
        user, _ = await _member(session, principal, user_id, station_id)
    except (PermissionDenied, NotFound) as exc:
        return await refusal_page(request, runtime, session, principal, exc)
    confirm = {"action": "remove", "station_id": station_id}
    try:
        form = await checked_form(request)
    except FormRejected as rejected:
        return await _confirm_page(request, runtime, session, principal, user, **confirm, values=rejected.form,
                                   alert=rejected.message, status=rejected.status)
    if form.get("go") != "confirm":
        return await _confirm_page(request, runtime, session, principal, user, **confirm, values=form)
    try:
        await commands.revoke_station_role(session, principal, station_id=station_id, user_id=user_id,
                                           reason=_reason(form))
    except DomainError as exc:
        refusal = await _failed(request, runtime, session, principal, exc)
        return refusal or await _confirm_page(request, runtime, session, principal, user, **confirm, values=form,
                                              errors=field_errors(exc) if exc.errors else {}, alert=exc.detail,
                                              status=exc.status)
    return RedirectResponse(f"/admin/users?station={station_id}&done=removed", status_code=303)


@router.get("/admin/users/{user_id}/{action}", response_class=HTMLResponse)
async def account_form(user_id: PathId, action: str, request: Request, principal: Staff, session: DbSession,
                       runtime: RuntimeDep) -> Response:
    if action not in ("deactivate", "reactivate"):
        return await refusal_page(request, runtime, session, principal, NotFound("No such page."))
    try:
        user = await _account_target(session, principal, user_id)
    except (PermissionDenied, NotFound) as exc:
        return await refusal_page(request, runtime, session, principal, exc)
    return await _confirm_page(request, runtime, session, principal, user, action=action)


@router.post("/admin/users/{user_id}/{action}", response_class=HTMLResponse)
async def change_account(user_id: PathId, action: str, request: Request, principal: Staff, session: DbSession,
                         runtime: RuntimeDep) -> Response:
    """Deactivate (with a reason) or reactivate: the same commands as the API's, which check the roles again."""
    try:
        if action not in ("deactivate", "reactivate"):
            raise NotFound("No such page.")
        user = await queries.get_user(session, principal, user_id)
    except (PermissionDenied, NotFound) as exc:
        return await refusal_page(request, runtime, session, principal, exc)
    try:
        form = await checked_form(request)
    except FormRejected as rejected:
        return await _confirm_page(request, runtime, session, principal, user, action=action, values=rejected.form,
                                   alert=rejected.message, status=rejected.status)
    if form.get("go") != "confirm":
        return await _confirm_page(request, runtime, session, principal, user, action=action, values=form)
    try:
        if action == "deactivate":
            await commands.deactivate_user(session, principal, user_id=user_id, reason=_reason(form))
        else:
            await commands.reactivate_user(session, principal, user_id=user_id)
    except DomainError as exc:
        refusal = await _failed(request, runtime, session, principal, exc)
        return refusal or await _confirm_page(request, runtime, session, principal, user, action=action,
                                              values=form, errors=field_errors(exc) if exc.errors else {},
                                              alert=exc.detail, status=exc.status)
    return RedirectResponse(f"/admin/users/{user_id}?done={action}d", status_code=303)
