"""Auth and staff-user API shapes (SPEC §4)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from myhibachi.auth.permissions import Role
from myhibachi.core.db import MAX_ID
from myhibachi.core.text import StaffEmail, multi_line, single_line

Password = Annotated[str, Field(min_length=10, max_length=128, description="10 to 128 characters.")]
Name = single_line(120)
Reason = multi_line(500, min_length=3)
TotpCode = Annotated[str, StringConstraints(pattern=r"^\d{6}$")]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]  # a record id: 64-bit, so larger numbers are a 422, not a 500


class LoginRequest(BaseModel):
    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254)]
    password: Annotated[str, Field(min_length=1, max_length=128)]
    totp_code: TotpCode | None = Field(None, description="Required when the user has two-factor sign-in on.")

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"email": "admin@example.com", "password": "hibachi-demo-pass"}]})


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "access_token": "eyJhbGciOiJIUzI1NiJ9...", "refresh_token": "q3Zb...", "token_type": "bearer",
        "expires_in": 900}]})


class RefreshRequest(BaseModel):
    refresh_token: Annotated[str, Field(min_length=1, max_length=200)]

    model_config = ConfigDict(json_schema_extra={"examples": [{"refresh_token": "q3Zb..."}]})


class StationRole(BaseModel):
    station_id: int
    role: Role
    permissions: list[str]


class Me(BaseModel):
    id: int
    email: str
    name: str
    is_super_admin: bool
    totp_enabled: bool
    stations: list[StationRole]

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 3, "email": "manager@example.com", "name": "Fremont Manager", "is_super_admin": False,
        "totp_enabled": False,
        "stations": [{"station_id": 1, "role": "manager", "permissions": ["bookings.read", "chefs.manage"]}]}]})


class PasswordResetRequest(BaseModel):
    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254)]

    model_config = ConfigDict(json_schema_extra={"examples": [{"email": "support@example.com"}]})


class PasswordSet(BaseModel):
    token: Annotated[str, Field(min_length=1, max_length=200)]
    new_password: Password

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"token": "from-the-email", "new_password": "a-long-new-password"}]})


class TotpSetup(BaseModel):
    secret: str
    otpauth_uri: str

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "secret": "JBSWY3DPEHPK3PXP",
        "otpauth_uri": "otpauth://totp/MyHibachi:admin%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=MyHibachi"}]})


class TotpConfirm(BaseModel):
    code: TotpCode

    model_config = ConfigDict(json_schema_extra={"examples": [{"code": "123456"}]})


class TotpDisable(BaseModel):
    password: Annotated[str, Field(min_length=1, max_length=128)]

    model_config = ConfigDict(json_schema_extra={"examples": [{"password": "my-current-password"}]})


class UserCreate(BaseModel):
    """Create a staff user with a role at one station; without a password an invite email is sent."""

    email: StaffEmail
    name: Name
    role: Role
    station_id: Id | None = Field(None, description="Required for every role but super_admin.")
    password: Password | None = None

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "email": "new.chef@example.com", "name": "Kenji Tanaka", "role": "chef", "station_id": 1}]})


class MembershipRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    station_id: int
    role: Role


class UserRead(BaseModel):
    id: int
    email: str
    name: str
    is_super_admin: bool
    is_active: bool
    totp_enabled: bool
    invite_pending: bool
    created_at: datetime
    memberships: list[MembershipRead]

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 7, "email": "new.chef@example.com", "name": "Kenji Tanaka", "is_super_admin": False,
        "is_active": True, "totp_enabled": False, "invite_pending": True, "created_at": "2026-11-25T18:00:00Z",
        "memberships": [{"station_id": 1, "role": "chef"}]}]})


class UserPage(BaseModel):
    items: list[UserRead]
    next_cursor: str | None

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "items": [{
            "id": 7, "email": "new.chef@example.com", "name": "Kenji Tanaka", "is_super_admin": False,
            "is_active": True, "totp_enabled": False, "invite_pending": True, "created_at": "2026-11-25T18:00:00Z",
            "memberships": [{"station_id": 1, "role": "chef"}]}],
        "next_cursor": "7"}]})


class MembershipSet(BaseModel):
    user_id: Id
    role: Role

    model_config = ConfigDict(json_schema_extra={"examples": [{"user_id": 7, "role": "support"}]})


class ReasonBody(BaseModel):
    reason: Reason

    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "Left the company"}]})
