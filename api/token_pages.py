"""The signed-in person's API tokens page: make a token (its secret shown once, on the answer to
the form, never again), see their tokens, revoke one, or sign out everywhere (every session and
every token)."""

from __future__ import annotations

import datetime as dt
import re

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from api.models import ApiToken
from api.tokens import sign_out_everywhere, token_revoke

MAX_TTL_DAYS = 366
DIGEST_FORMAT = re.compile(r"[0-9a-f]{128}")  # knox: SHA-512, hexadecimal


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="What it is for, so you know which one to revoke, e.g. “Lab interface”.",
    )
    expires_in_days = forms.IntegerField(
        label="Expires after (days)", min_value=1, max_value=MAX_TTL_DAYS
    )


def _owner(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # noqa: S101 - login_required let only people in
    return request.user


@never_cache  # the answer to the form holds the secret: no copy kept anywhere
@login_required
def api_tokens(request: HttpRequest) -> HttpResponse:
    user = _owner(request)
    default_days = int(settings.API_TOKEN_TTL / dt.timedelta(days=1))
    form = TokenForm(request.POST or None, initial={"expires_in_days": default_days})
    secret = None
    if request.method == "POST" and form.is_valid():
        _token, secret = ApiToken.objects.issue(
            user=user,
            name=form.cleaned_data["name"],
            ttl=dt.timedelta(days=form.cleaned_data["expires_in_days"]),
        )
        form = TokenForm(initial={"expires_in_days": default_days})
    tokens = ApiToken.objects.filter(user=user)
    context = {"form": form, "secret": secret, "tokens": tokens, "now": timezone.now()}
    return render(request, "api/tokens.html", context)


@require_POST
@login_required
def revoke(request: HttpRequest) -> HttpResponse:
    user = _owner(request)
    digest = request.POST.get("token", "")
    if not DIGEST_FORMAT.fullmatch(digest):  # the database never sees what is no digest
        raise Http404
    token = get_object_or_404(ApiToken, user=user, digest=digest)
    token_revoke(token=token, by=user, reason="by its owner")
    messages.success(request, f"The token “{token.name}” is revoked: it no longer works.")
    return redirect("api_tokens:list")


@require_POST
@login_required
def everywhere(request: HttpRequest) -> HttpResponse:
    sign_out_everywhere(user=_owner(request))
    logout(request)
    messages.success(request, "You are signed out everywhere, and your API tokens are revoked.")
    return redirect(settings.LOGIN_URL)


app_name = "api_tokens"

urlpatterns = [
    path("", api_tokens, name="list"),
    path("revoke/", revoke, name="revoke"),
    path("sign-out-everywhere/", everywhere, name="sign_out_everywhere"),
]
