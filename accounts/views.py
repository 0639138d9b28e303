"""Sign-in pages beyond Django's password form: the lockout page, the two-factor step and set-up,
and self-service password change and reset."""

from __future__ import annotations

from base64 import b32encode
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.contrib.auth.signals import user_login_failed
from django.contrib.messages.views import SuccessMessageMixin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django_otp import login as otp_login

from accounts import two_factor
from accounts.forms import CodeForm, RemoveSecondFactorForm, SiteUrlPasswordResetForm
from accounts.policy import has_second_factor, is_verified, must_use_second_factor
from accounts.qr import qr_svg


def _next_path(request: HttpRequest) -> str:
    """Where to go once this step is done: the `next` asked for, if it is this site's."""
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return reverse(settings.LOGIN_REDIRECT_URL)


def _signed_in(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # noqa: S101 - login_required ran
    return user


def locked_out(
    request: HttpRequest, response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """axes' lockout answer (AXES_LOCKOUT_CALLABLE), at the sign-in page and the admin's."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    context = {"cooloff_minutes": minutes, "help": settings.SIGN_IN_HELP}
    return render(request, "accounts/locked_out.html", context, status=429)


@never_cache
@sensitive_post_parameters("code")
@login_required
def verify(request: HttpRequest) -> HttpResponse:
    """After the password: the authenticator's code, or a recovery code."""
    user = _signed_in(request)
    if is_verified(user) or not has_second_factor(user):
        return HttpResponseRedirect(_next_path(request))
    # A wrong code is a failed sign-in, counted by axes with the passwords (and by the audit log).
    credentials = {"username": user.get_username()}  # AXES_USERNAME_FORM_FIELD
    if AxesProxyHandler.is_locked(request, credentials):
        logout(request)
        return locked_out(request)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        check = two_factor.code_check(user=user, code=form.cleaned_data["code"])
        if check.device is not None:
            otp_login(request, check.device)
            return HttpResponseRedirect(_next_path(request))
        if check.wait_seconds:
            form.add_error(
                "code",
                f"Too many wrong codes: wait {check.wait_seconds} seconds, then try again.",
            )
        else:
            form.add_error("code", "That code is not right. Check the app shows this account.")
            user_login_failed.send(sender=__name__, credentials=credentials, request=request)
            if getattr(request, "axes_locked_out", False):
                logout(request)  # axes' middleware answers with the lockout page
    return render(
        request,
        "accounts/verify.html",
        {"form": form, "next": _next_path(request), "help": settings.SIGN_IN_HELP},
    )


@never_cache
@sensitive_post_parameters("code", "password")
@login_required
def two_factor_page(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator app; once set up: new recovery codes, or remove it."""
    user = _signed_in(request)
    if has_second_factor(user):
        if not is_verified(user):
            return redirect("accounts:verify")
        return _manage(request, user)
    return _enrol(request, user)


def _enrol(request: HttpRequest, user: User) -> HttpResponse:
    device = two_factor.totp_device_to_confirm(user=user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        confirmed = two_factor.totp_confirm(
            user=user, device_id=device.pk, code=form.cleaned_data["code"]
        )
        if confirmed is not None:
            otp_login(request, confirmed)
            codes = two_factor.recovery_codes_issue(user=user)
            return _show_codes(request, codes, first_time=True)
        form.add_error("code", "That code is not right: scan the QR code again, type a new code.")
    secret = b32encode(device.bin_key).decode()
    context = {
        "form": form,
        "next": _next_path(request),
        "required": must_use_second_factor(user),
        "qr_svg": qr_svg(device.config_url),
        "secret_groups": [secret[i : i + 4] for i in range(0, len(secret), 4)],
    }
    return render(request, "accounts/enrol.html", context)


def _manage(request: HttpRequest, user: User) -> HttpResponse:
    remove_form = RemoveSecondFactorForm(request.POST if "remove" in request.POST else None)
    if request.method == "POST" and "regenerate" in request.POST:
        return _show_codes(request, two_factor.recovery_codes_issue(user=user), first_time=False)
    if request.method == "POST" and "remove" in request.POST and remove_form.is_valid():
        # Through authenticate(): a locked-out account cannot, and wrong passwords count.
        password = remove_form.cleaned_data["password"]
        if authenticate(request, username=user.get_username(), password=password) is not None:
            two_factor.second_factor_remove(user=user)
            messages.success(request, "Two-factor sign-in is off: your authenticator was removed.")
            return redirect("accounts:two_factor")
        remove_form.add_error("password", "That is not your password.")
    context = {
        "remove_form": remove_form,
        "codes_left": two_factor.recovery_codes_left(user=user),
        "required": must_use_second_factor(user),
    }
    return render(request, "accounts/two_factor.html", context)


def _show_codes(request: HttpRequest, codes: list[str], *, first_time: bool) -> HttpResponse:
    """The recovery codes, in this response only (never shown again)."""
    context = {"codes": codes, "first_time": first_time, "next": _next_path(request)}
    return render(request, "accounts/recovery_codes.html", context)


def _reset_valid_hours() -> str:
    return f"{settings.PASSWORD_RESET_TIMEOUT / 3600:g}"


class PasswordChange(SuccessMessageMixin, auth_views.PasswordChangeView):
    """Keeps this session signed in (update_session_auth_hash); the person's other sessions are
    signed out at their next request (their session hash no longer matches)."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy(settings.LOGIN_REDIRECT_URL)
    success_message = "Your password was changed. Your other sessions were signed out."


class PasswordReset(auth_views.PasswordResetView):
    form_class = SiteUrlPasswordResetForm
    template_name = "accounts/password_reset.html"
    email_template_name = "emails/password_reset.txt"
    subject_template_name = "emails/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    @property
    def extra_email_context(self) -> dict[str, str]:  # type: ignore[override]
        return {"valid_hours": _reset_valid_hours()}


class PasswordResetSent(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_sent.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return super().get_context_data(**kwargs) | {"valid_hours": _reset_valid_hours()}


class PasswordResetConfirm(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")


class PasswordResetComplete(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"
