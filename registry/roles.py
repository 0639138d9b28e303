"""What each role may do, as Django permissions computed from memberships (not stored in groups).

A person's role is **per site**: a nurse at north who is a clinician at south is a nurse for north's
records. `may(user, permission, site_id)` answers for one site, and every door asks it (through the
services, which refuse with `PermissionDenied`). `user.has_perm(permission)` without a site is the
union over the person's sites: it only says whether to offer an action at all.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db.models import Model

from registry.models import (
    AdverseEvent,
    ClinicalAssessment,
    Comorbidity,
    Consent,
    ImagingStudy,
    Infusion,
    InfusionReaction,
    LabResult,
    LesionSite,
    Medication,
    Patient,
    Phenotype,
    RegimenChange,
    Relapse,
    Role,
    ScreeningResult,
    Site,
    TreatmentCourse,
    Vaccination,
)

_ALL_CLINICAL = (
    Patient,
    TreatmentCourse,
    RegimenChange,
    Infusion,
    InfusionReaction,
    LabResult,
    ImagingStudy,
    ClinicalAssessment,
    Relapse,
    Medication,
    AdverseEvent,
    ScreeningResult,
    Vaccination,
    LesionSite,
    Phenotype,
    Comorbidity,
)
# Consent (README "Consent"): a clinician or a data manager records consent given, and its
# withdrawal, as either may take it in clinic; only a data manager corrects a consent record (its
# document, who consented, a date), as the registry's keeper of the paperwork. Nurses see it.
RECORD_CONSENT = "registry.add_consent"
WITHDRAW_CONSENT = "registry.withdraw_consent"
CORRECT_CONSENT = "registry.change_consent"
_RECORD_CONSENT = frozenset({RECORD_CONSENT, WITHDRAW_CONSENT})
# Nurses and infusion staff record what happens in the infusion unit.
_NURSE_RECORDS = (Infusion, InfusionReaction, LabResult)


def _perms(actions: tuple[str, ...], models: tuple[type[Model], ...]) -> frozenset[str]:
    return frozenset(
        f"{model._meta.app_label}.{action}_{model._meta.model_name}"
        for model in models
        for action in actions
    )


_VIEW_RECORD = _perms(("view",), (Site, *_ALL_CLINICAL, Consent))

# Monitoring's models, named (registry does not import monitoring): staff act on alerts; clinicians
# set their site's guideline parameters.
_ACT_ON_ALERTS = frozenset(
    {"monitoring.view_alert", "monitoring.change_alert", "monitoring.view_siteguideline"}
)

# Clinical judgements (GUIDELINE.md "Who may act on alerts"): only a clinician reviews a reaction,
# dismisses an urgent alert, or corrects a value the guideline engine reads (a dose, a weight, a
# reaction's severity, a stop reason), since such a correction can clear a safety alert. The
# same holds for the safety record: a clinician reviews a serious adverse event (or one of special
# interest), a screening result that is not negative, and a live vaccine given near infliximab.
REVIEW_REACTION = "registry.review_infusionreaction"
REVIEW_ADVERSE_EVENT = "registry.review_adverseevent"
REVIEW_SCREENING = "registry.review_screeningresult"
REVIEW_VACCINATION = "registry.review_vaccination"
CORRECT_ENGINE_INPUT = "registry.correct_engine_input"
DISMISS_URGENT_ALERT = "monitoring.dismiss_urgent_alert"
_CLINICIAN_JUDGEMENTS = frozenset(
    {
        REVIEW_REACTION,
        REVIEW_ADVERSE_EVENT,
        REVIEW_SCREENING,
        REVIEW_VACCINATION,
        CORRECT_ENGINE_INPUT,
        DISMISS_URGENT_ALERT,
    }
)

# Who read their site's patients' records, and who signed in (the access log, audit/).
VIEW_ACCESS_LOG = "audit.view_accesslogentry"

# Clinical data is never deleted by a role: a correction is a change, kept in the history.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.CLINICIAN: _VIEW_RECORD
    | _perms(("add", "change"), _ALL_CLINICAL)
    | _ACT_ON_ALERTS
    | _CLINICIAN_JUDGEMENTS
    | _RECORD_CONSENT
    | frozenset({"monitoring.add_siteguideline", "monitoring.change_siteguideline"}),
    Role.NURSE: _VIEW_RECORD | _perms(("add", "change"), _NURSE_RECORDS) | _ACT_ON_ALERTS,
    Role.DATA_MANAGER: _VIEW_RECORD
    | _perms(("add", "change"), _ALL_CLINICAL)
    | _ACT_ON_ALERTS
    | _RECORD_CONSENT
    | frozenset({CORRECT_CONSENT})
    | frozenset({"registry.view_membership", "monitoring.view_evaluationrun", VIEW_ACCESS_LOG}),
    Role.RESEARCHER: frozenset(),
}


def permissions_for_roles(roles: set[str]) -> set[str]:
    return set().union(*(ROLE_PERMISSIONS[role] for role in roles)) if roles else set()


def acting(user: User | AnonymousUser) -> User:
    """The signed-in person acting through a door (an anonymous caller never reaches a service)."""
    if not isinstance(user, User) or not user.is_authenticated:
        raise PermissionDenied("Sign in first.")
    return user


def role_at(user: User | AnonymousUser, site_id: int) -> str | None:
    """The person's role at this site (one per site), or None."""
    if not user.is_authenticated or not user.is_active:
        return None
    if isinstance(user, AnonymousUser):
        return None
    return user.memberships.filter(site_id=site_id).values_list("role", flat=True).first()


def may(user: User | AnonymousUser, permission: str, site_id: int) -> bool:
    """Whether `user` may do `permission` to a record of this site, by their role *at that site*."""
    if not user.is_authenticated or not user.is_active:
        return False
    if getattr(user, "is_superuser", False):
        return True
    role = role_at(user, site_id)
    return role is not None and permission in ROLE_PERMISSIONS[role]


def permissions_at(user: User | AnonymousUser, site_id: int) -> frozenset[str]:
    """Every permission `user` has at this site, in one query: for a page that offers several
    actions (each answers as `may` would)."""
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    if getattr(user, "is_superuser", False):
        return frozenset().union(*ROLE_PERMISSIONS.values())
    role = role_at(user, site_id)
    return ROLE_PERMISSIONS[role] if role is not None else frozenset()


def require(user: User | AnonymousUser, permission: str, site_id: int, refusal: str) -> None:
    """Refuse (PermissionDenied with `refusal`) unless `may(user, permission, site_id)`."""
    if not may(user, permission, site_id):
        raise PermissionDenied(refusal)


def sites_where(user: User | AnonymousUser, permission: str) -> set[int]:
    """The sites where `user` may do `permission` (to offer an action only where it is allowed)."""
    if isinstance(user, AnonymousUser) or not user.is_active:
        return set()
    if getattr(user, "is_superuser", False):
        return set(Site.objects.values_list("pk", flat=True))
    memberships = user.memberships.values_list("site_id", "role")
    return {site_id for site_id, role in memberships if permission in ROLE_PERMISSIONS[role]}
