"""Usernames are case-insensitive, on SQLite and on MariaDB alike.

``bob``, ``BOB`` and ``Bob`` name one user: any case logs in (token, browser and admin logins, through
``CaseInsensitiveModelBackend``), a username another user holds in another case cannot be taken (the
admin's forms say so; the database refuses it: a unique index on ``LOWER(username)`` on SQLite, the
column's case-insensitive ``utf8mb4`` collation on MariaDB), and the lockout counts the failed logins
of every spelling together (``lockout_username``). A user keeps the spelling they were created with.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import UserChangeForm


def username_stored(username: str) -> str | None:
    """The spelling under which ``username`` (in any case) is stored, or None."""
    User = get_user_model()
    field = User.USERNAME_FIELD
    return User._default_manager.filter(**{f"{field}__iexact": username}).values_list(field, flat=True).first()


class CaseInsensitiveModelBackend(ModelBackend):
    """Django's ModelBackend, finding the user by their username in any case."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        username = kwargs.pop(get_user_model().USERNAME_FIELD, username)
        if isinstance(username, str):
            username = username_stored(username) or username
        return super().authenticate(request, username=username, password=password, **kwargs)

    async def aauthenticate(self, request, username=None, password=None, **kwargs):
        return await sync_to_async(self.authenticate)(request, username=username, password=password, **kwargs)


def lockout_username(request, credentials: dict | None = None) -> str | None:
    """django-axes' username (AXES_USERNAME_CALLABLE): lower-cased, so every spelling shares one count."""
    source = credentials if credentials is not None else getattr(request, "data", request.POST)
    username = source.get(settings.AXES_USERNAME_FORM_FIELD)
    return username.lower() if isinstance(username, str) else username


class CaseInsensitiveUserChangeForm(UserChangeForm):
    """The admin's user form: renaming a user to another user's name in another case is refused, as
    Django's creation form already refuses it on add."""

    def clean_username(self) -> str:
        username = self.cleaned_data.get("username")
        others = get_user_model()._default_manager.exclude(pk=self.instance.pk)
        if username and others.filter(username__iexact=username).exists():
            raise forms.ValidationError(self.instance.unique_error_message(self._meta.model, ["username"]))
        return username
