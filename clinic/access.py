"""Who may see what in the clinic UI: staff of a patient's site; researchers see no patient."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from audit.recording import record_read, web_kind
from registry import roles
from registry.models import STAFF_ROLES, Patient, Role, TreatmentCourse
from registry.selectors import patients_for, staff_site_ids

View = Callable[..., HttpResponse]


class AuthenticatedHttpRequest(HttpRequest):
    """The request of a page behind `staff_required`: a signed-in person (django-stubs' idiom)."""

    user: User


def staff_required(view: View) -> View:
    """Signed in, with a staff role (clinician, nurse, data manager) at some site; else 403."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not staff_site_ids(request.user):
            raise PermissionDenied("Patient records are for clinic staff.")
        return view(request, *args, **kwargs)

    return wrapper


def is_researcher(user: Any) -> bool:
    return bool(user.memberships.filter(role=Role.RESEARCHER).exists())


def is_nurse_only(user: Any) -> bool:
    """A nurse at every site where the person is staff: their day starts at the infusion list."""
    if user.is_superuser:
        return False
    staff_roles = set(user.memberships.filter(role__in=STAFF_ROLES).values_list("role", flat=True))
    return staff_roles == {Role.NURSE}


def require_perm(request: HttpRequest, permission: str, site_id: int) -> None:
    """Refuse the page (403) unless the person's role *at this site* allows it; the service behind
    the page checks the same again, so the page only saves a wasted form."""
    roles.require(
        request.user, permission, site_id, "Your role at this patient's site does not record this."
    )


def patient_or_404(request: HttpRequest, patient_id: int) -> Patient:
    """Another site's patient does not exist, as far as this user can tell. The page shows this
    patient: the access log records it."""
    patient = get_object_or_404(patients_for(request.user).select_related("site"), pk=patient_id)
    record_read(request, kind=web_kind(request), patients=[patient])
    return patient


def course_or_404(request: HttpRequest, course_id: int) -> TreatmentCourse:
    course = get_object_or_404(
        TreatmentCourse.objects.select_related("patient__site").filter(
            patient__in=patients_for(request.user)
        ),
        pk=course_id,
    )
    record_read(request, kind=web_kind(request), patients=[course.patient])
    return course
