"""Accounts, API tokens, the caller, and whom alerts can be assigned to."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Me(BaseModel):
    username: str
    role: str
    engineer_id: str | None


class TokenRequest(BaseModel):
    name: str = Field(default="", max_length=100, description="what the token is for")


class TokenIssued(BaseModel):
    id: int
    name: str
    token: str = Field(description="shown only now: only its hash is stored")


class TokenPublic(BaseModel):
    id: int
    name: str
    created_at: int
    revoked_at: int | None


class UserRequest(BaseModel):
    username: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._@-]+$")
    role: str = Field(pattern="^(admin|dispatcher|engineer)$")
    engineer_id: str | None = Field(default=None, max_length=100,
                                    description="required for, and only for, an engineer")


class UserPublic(BaseModel):
    username: str
    role: str
    engineer_id: str | None
    disabled: bool
    language: str = Field(default="", description="their pages' language (e.g. de, zh-CN); "
                                                  "empty: the browser's")


class UserCreated(UserPublic):
    password: str = Field(description="generated, shown only now")


class RoleChange(BaseModel):
    role: str = Field(pattern="^(admin|dispatcher|engineer)$")
    engineer_id: str | None = Field(default=None, max_length=100,
                                    description="required for, and only for, an engineer")


class LanguageChange(BaseModel):
    language: str = Field(max_length=35, description="an available language (en, de, zh-CN, "
                                                     "...); empty: follow the browser")


class PasswordReset(BaseModel):
    password: str | None = Field(default=None, min_length=8, max_length=200,
                                 description="the new password; omit it to have one generated")


class PasswordSet(BaseModel):
    username: str
    password: str | None = Field(description="the generated password, shown only now "
                                             "(null when the admin chose it)")


class Assignee(BaseModel):
    username: str
    display_name: str
    role: str
