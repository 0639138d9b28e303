"""What each role may do, as Django permissions computed from memberships (not stored in groups).

Scoping to sites is separate (see `registry.selectors`): a permission says *what* a person may do,
their memberships say *where*.
"""

from __future__ import annotations

from django.db.models import Model

from registry.models import (
    ClinicalAssessment,
    ImagingStudy,
    Infusion,
    InfusionReaction,
    LabResult,
    Patient,
    RegimenChange,
    Relapse,
    Role,
    Site,
    TreatmentCourse,
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
)
# Nurses and infusion staff record what happens in the infusion unit.
_NURSE_RECORDS = (Infusion, InfusionReaction, LabResult)


def _perms(actions: tuple[str, ...], models: tuple[type[Model], ...]) -> frozenset[str]:
    return frozenset(
        f"{model._meta.app_label}.{action}_{model._meta.model_name}"
        for model in models
        for action in actions
    )


_VIEW_RECORD = _perms(("view",), (Site, *_ALL_CLINICAL))

# Monitoring's models, named (registry does not import monitoring): staff act on alerts; clinicians
# set their site's guideline parameters.
_ACT_ON_ALERTS = frozenset(
    {"monitoring.view_alert", "monitoring.change_alert", "monitoring.view_siteguideline"}
)

# Clinical data is never deleted by a role: a correction is a change, kept in the history.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.CLINICIAN: _VIEW_RECORD
    | _perms(("add", "change"), _ALL_CLINICAL)
    | _ACT_ON_ALERTS
    | frozenset({"monitoring.add_siteguideline", "monitoring.change_siteguideline"}),
    Role.NURSE: _VIEW_RECORD | _perms(("add", "change"), _NURSE_RECORDS) | _ACT_ON_ALERTS,
    Role.DATA_MANAGER: _VIEW_RECORD
    | _perms(("add", "change"), _ALL_CLINICAL)
    | _ACT_ON_ALERTS
    | frozenset({"registry.view_membership", "monitoring.view_evaluationrun"}),
    Role.RESEARCHER: frozenset(),
}


def permissions_for_roles(roles: set[str]) -> set[str]:
    return set().union(*(ROLE_PERMISSIONS[role] for role in roles)) if roles else set()
