"""Two gates every interactive request passes: the idle timeout, and the second factor a
password-only session still owes. API token clients are not sessions: neither touches them."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse

from accounts.policy import Step, is_verified, step_owed

# Unix time of the session's last request that counted as activity.
LAST_ACTIVITY_KEY = "accounts_last_activity"
# Writing the session costs a query: record activity at most this often (seconds). The timeout is
# therefore exact to this much.
ACTIVITY_RESOLUTION = 60
# A request sent by a page on its own (HTMX polling, `hx-trigger="every …"`) carries this header
# (hx-headers on the polling element) and does not count as activity: a page left open must time
# out. tests/accounts/test_idle_timeout.py checks every polling template sends it.
BACKGROUND_HEADER = "X-Background-Poll"

TIMED_OUT_MESSAGE = "You were signed out after {minutes} minutes without activity. Sign in again."


def is_background(request: HttpRequest) -> bool:
    return request.headers.get(BACKGROUND_HEADER) == "true"


def _htmx_redirect(to: str) -> HttpResponse:
    """HTMX follows a 302 inside the page (it would swap the sign-in page into a table row):
    HX-Redirect makes the browser go there instead."""
    response = HttpResponse(status=204)
    response["HX-Redirect"] = to
    return response


def _with_next(url: str, next_path: str) -> str:
    return f"{url}?{urlencode({'next': next_path})}" if next_path else url


class IdleTimeoutMiddleware:
    """Sign out a session after IDLE_TIMEOUT without a request of its person (the session's
    absolute limit, SESSION_COOKIE_AGE from signing in, is set in accounts.receivers)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = int(time.time())
            last = request.session.get(LAST_ACTIVITY_KEY)
            if last is not None and now - last > settings.IDLE_TIMEOUT.total_seconds():
                return self._timed_out(request)
            if not is_background(request) and (last is None or now - last >= ACTIVITY_RESOLUTION):
                request.session[LAST_ACTIVITY_KEY] = now
        return self.get_response(request)

    def _timed_out(self, request: HttpRequest) -> HttpResponse:
        logout(request)
        minutes = int(settings.IDLE_TIMEOUT.total_seconds() // 60)
        messages.info(request, TIMED_OUT_MESSAGE.format(minutes=minutes))
        htmx = getattr(request, "htmx", None)
        if htmx:
            page = htmx.current_url_abs_path or ""
            return _htmx_redirect(_with_next(reverse(settings.LOGIN_URL), page))
        # Carry on signed out: a page that needs a person sends to the sign-in page (with `next`),
        # the API answers 401.
        return self.get_response(request)


class SecondFactorMiddleware:
    """A session signed in with the password alone, whose person has an authenticator or must set
    one up, opens only that step (and signing out) until it is done."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        step = None
        if user.is_authenticated and not is_verified(user):
            step = step_owed(user)
        # base.html shows no menu to a session that owes a step.
        request.second_factor_step = step  # type: ignore[attr-defined]
        if step is None:
            return self.get_response(request)
        step_url = reverse("accounts:verify" if step is Step.VERIFY else "accounts:two_factor")
        if request.path_info in (step_url, reverse("logout")):
            return self.get_response(request)
        if request.path_info.startswith("/api/"):
            return JsonResponse(
                {"detail": "Give your two-factor code in the browser first, or use an API token."},
                status=403,
            )
        next_path = request.get_full_path() if request.method == "GET" else ""
        if getattr(request, "htmx", None):
            return _htmx_redirect(_with_next(step_url, request.htmx.current_url_abs_path or ""))  # type: ignore[attr-defined]
        return HttpResponseRedirect(_with_next(step_url, next_path))
