from typing import Any

from django.http import HttpRequest

from registry import roles
from registry.selectors import staff_site_ids
from research.selectors import OUTCOME_ROLES, exporter_site_ids


def memberships(request: HttpRequest) -> dict[str, Any]:
    """The signed-in person's sites and roles, shown in every page's header, the sites where they
    may make a clinician's decisions (pages offer those actions there only), and which parts of the
    registry they may open (the menu and the error pages link only those)."""
    user = request.user
    if not user.is_authenticated:
        return {}
    held = list(user.memberships.select_related("site").order_by("site__code"))
    return {
        "my_roles": [(m.site.code, m.get_role_display()) for m in held],
        "clinician_site_ids": roles.sites_where(user, roles.DISMISS_URGENT_ALERT),
        "menu": {
            # The worklist, patients, guideline and digest settings: clinic staff of some site.
            "clinic": bool(staff_site_ids(user)),
            "research": bool(exporter_site_ids(user)),
            # The outcomes page: clinicians, data managers, researchers (aggregates only).
            "outcomes": user.is_active and any(m.role in OUTCOME_ROLES for m in held),
            # What the admin site itself lets in (AdminSite.has_permission).
            "admin": user.is_active and user.is_staff,
        },
    }
