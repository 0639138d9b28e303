"""The digest settings page, and one-click unsubscribe from the digest's link."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt

from monitoring.digests import preference_of, user_from_unsubscribe_token
from monitoring.models import NotificationPreference
from registry.selectors import sites_for


class PreferenceForm(forms.ModelForm):
    class Meta:
        model = NotificationPreference
        fields = ["digest_enabled", "minimum_severity", "sites"]
        widgets = {"sites": forms.CheckboxSelectMultiple}

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sites"].queryset = sites_for(user)  # type: ignore[attr-defined]


@login_required
def notification_settings(request: HttpRequest) -> HttpResponse:
    preference = preference_of(request.user)
    form = PreferenceForm(request.POST or None, instance=preference, user=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Your digest settings are saved.")
        return redirect("clinic:notification_settings")
    return render(request, "clinic/notifications.html", {"form": form})


@csrf_exempt  # RFC 8058 one-click: the mail client POSTs without a session; the token is the key
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    user = user_from_unsubscribe_token(token)
    if user is None:
        return render(request, "clinic/unsubscribe.html", {"invalid": True}, status=400)
    if request.method == "POST":
        NotificationPreference.objects.update_or_create(
            user=user, defaults={"digest_enabled": False}
        )
        return render(request, "clinic/unsubscribe.html", {"done": True})
    return render(request, "clinic/unsubscribe.html", {"token": token})
